import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs, qc
from genreflow.artists import duplicate_table
from genreflow.blocks import OK, read_records
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
records = read_records(snakemake.input[0])
rejected = list(snakemake.params.left_out) + qc.job_rejections(records)
qc.write_rejections(snakemake.output.rejected, rejected)
qc.write_rejections(snakemake.output.ignored, snakemake.params.ignored)
used = [r for r in records if r["status"] == OK]
qc.write_track_table(snakemake.output.tracks, used)
# the same decoded audio under two names (audio_sha256, recorded by the featurisation jobs)
duplicates = duplicate_table(used)
write_table(snakemake.output.duplicates, duplicates)
print(
    f"{len(rejected)} rejected, {len(snakemake.params.ignored)} ignored, {len(used)} used, "
    f"{duplicates['set'].nunique()} set(s) of exact duplicates"
)
