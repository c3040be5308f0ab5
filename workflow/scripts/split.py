import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.split import assign, build_tree, read_manifest, write_manifest, write_summary
from genreflow.split import Entry

logs.to_file(snakemake.log[0])
entries = [Entry(t["track_id"], t["genre"], png) for t, png in zip(snakemake.params.tracks, snakemake.input)]
assignment, warnings = assign(entries, snakemake.params.split, snakemake.params.genres, Path(snakemake.scriptdir).resolve().parents[1])
for warning in warnings:
    print(f"WARNING: {warning}")
write_manifest(snakemake.output.manifest, entries, assignment)
write_summary(snakemake.output.summary, entries, assignment, snakemake.params.genres)
trees = {name: snakemake.output[name] for name in ("train", "val", "test")}
build_tree(trees, read_manifest(snakemake.output.manifest), snakemake.params.genres)
print(f"split {len(assignment)} tracks with method '{snakemake.params.split['method']}'")
