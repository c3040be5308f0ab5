import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import set_index
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
index = set_index(snakemake.input.tables)
write_table(snakemake.output[0], index)
counts = index["status"].value_counts()
print(f"{counts.get('ok', 0)} spectrogram(s), {counts.get('rejected', 0)} rejected file(s)")
