import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.artists import read_artist_tables, track_credits
from genreflow.atomic import atomic_path
from genreflow.blocks import OK, read_index
from genreflow.split import (
    Entry,
    build_tree,
    describe,
    plan_split,
    ratio_line,
    write_manifest,
    write_summary,
)
from genreflow.tables import read_manifest

logs.to_file(snakemake.log[0])
records = [
    r for index in snakemake.input.indexes for r in read_index(index).values() if r["status"] == OK
]
# audio_sha256 (the decoded samples' digest) is there where featurisation recorded it
entries = [
    Entry(r["key"], r["label"], r["png"], r["png_sha256"], r.get("audio_sha256", ""))
    for r in records
]
split_config, fixed = snakemake.params.split, snakemake.params.fixed
credits = track_credits(
    ((r["key"], r["name"]) for r in records),
    read_artist_tables(snakemake.input.artists),
    snakemake.params.sheet_artists,
)
plan = plan_split(
    entries,
    split_config,
    snakemake.params.genres,
    Path(snakemake.scriptdir).resolve().parents[1],
    fixed,
    credits,
)
for warning in plan.warnings:
    print(f"WARNING: {warning}")
info = describe(plan, entries, split_config, bool(fixed))
write_manifest(snakemake.output.manifest, entries, plan.assignment)
write_summary(
    snakemake.output.summary,
    entries,
    plan.assignment,
    snakemake.params.genres,
    plan.grouping,
    info["asked"],
)
trees = {name: snakemake.output[name] for name in ("train", "val", "test")}
build_tree(trees, read_manifest(snakemake.output.manifest), snakemake.params.genres)
with atomic_path(snakemake.output.info) as tmp:
    tmp.write_text(json.dumps(info, indent=2))
method = "the sample sheet's split column" if fixed else f"method '{split_config['method']}'"
print(f"split {len(plan.assignment)} tracks with {method}: {plan.kind}")
if plan.grouping.duplicates:
    print(f"{len(plan.grouping.duplicates)} set(s) of exact duplicates kept together")
if info["asked"]:
    gap = "WARNING: " if info["largest_gap"] > 0.05 else ""
    print(f"{gap}parts achieved against asked: {ratio_line(info['asked'], info['achieved'])}")
else:
    print("parts: " + ", ".join(f"{n} {s:.1%}" for n, s in info["achieved"].items()))
