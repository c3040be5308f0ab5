import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs, qc
from genreflow.artists import duplicate_table
from genreflow.blocks import OK, REJECTED, read_index
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
records = [r for index in snakemake.input for r in read_index(index).values()]
rejected = list(snakemake.params.rejected)
rejected += qc.job_rejections(
    [r for r in records if r["status"] == REJECTED], {r["track_id"] for r in rejected}
)
qc.write_rejections(snakemake.output.rejected, rejected)
qc.write_rejections(snakemake.output.ignored, snakemake.params.ignored)
used = [r for r in records if r["status"] == OK]
qc.write_track_table(snakemake.output.tracks, used)
duplicates = duplicate_table(used)
write_table(snakemake.output.duplicates, duplicates)
if used and "audio_sha256" not in used[0]:
    print("no audio_sha256 in the featurisation index tables: duplicates not looked for")
print(
    f"{len(rejected)} rejected, {len(snakemake.params.ignored)} ignored, {len(used)} used, "
    f"{duplicates['set'].nunique()} set(s) of exact duplicates"
)
