import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import OK, read_index
from genreflow.split import Entry, assign, build_tree, write_manifest, write_summary
from genreflow.tables import read_manifest

logs.to_file(snakemake.log[0])
records = [r for index in snakemake.input for r in read_index(index).values() if r["status"] == OK]
entries = [Entry(r["key"], r["label"], r["png"], r["png_sha256"]) for r in records]
assignment, warnings = assign(
    entries,
    snakemake.params.split,
    snakemake.params.genres,
    Path(snakemake.scriptdir).resolve().parents[1],
    snakemake.params.fixed,
)
for warning in warnings:
    print(f"WARNING: {warning}")
write_manifest(snakemake.output.manifest, entries, assignment)
write_summary(snakemake.output.summary, entries, assignment, snakemake.params.genres)
trees = {name: snakemake.output[name] for name in ("train", "val", "test")}
build_tree(trees, read_manifest(snakemake.output.manifest), snakemake.params.genres)
method = (
    "the sample sheet's split column"
    if snakemake.params.fixed
    else f"method '{snakemake.params.split['method']}'"
)
print(f"split {len(assignment)} tracks with {method}")
