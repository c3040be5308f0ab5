import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs, qc

logs.to_file(snakemake.log[0])
qc.write_rejections(snakemake.output.rejected, snakemake.params.rejected)
qc.write_rejections(snakemake.output.ignored, snakemake.params.ignored)
qc.write_track_table(snakemake.output.tracks, snakemake.params.tracks, snakemake.input)
print(f"{len(snakemake.params.rejected)} rejected, {len(snakemake.params.ignored)} ignored, {len(snakemake.params.tracks)} used")
