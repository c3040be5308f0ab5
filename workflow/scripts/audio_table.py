import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import Item, audio_stamps
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
table = audio_stamps(Item(**m) for m in snakemake.params.members)
write_table(snakemake.output[0], table)
print(f"{len(table)} audio file(s), digest {snakemake.params.audio_stamps}")
