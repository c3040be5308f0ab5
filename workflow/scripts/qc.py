import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs, qc
from genreflow.blocks import OK, read_records

logs.to_file(snakemake.log[0])
records = read_records(snakemake.input[0])
rejected = list(snakemake.params.left_out) + qc.job_rejections(records)
qc.write_rejections(snakemake.output.rejected, rejected)
qc.write_rejections(snakemake.output.ignored, snakemake.params.ignored)
used = [r for r in records if r["status"] == OK]
qc.write_track_table(snakemake.output.tracks, used)
print(f"{len(rejected)} rejected, {len(snakemake.params.ignored)} ignored, {len(used)} used")
