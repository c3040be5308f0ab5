import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.artists import read_artist_tables, track_credits
from genreflow.atomic import atomic_path
from genreflow.blocks import OK, Item, read_records
from genreflow.config import ConfigError
from genreflow.plan import check_tracks, split_error
from genreflow.split import (
    FAR_APART,
    Entry,
    SplitError,
    build_tree,
    describe,
    plan_split,
    ratio_line,
    write_manifest,
    write_summary,
)
from genreflow.tables import read_manifest
from genreflow.tracks import Rejection

logs.to_file(snakemake.log[0])
checks, root = snakemake.params.checks, Path(snakemake.scriptdir).resolve().parents[1]
split_config, fixed, genres = checks["split"], checks["fixed_split"], checks["genres"]
records = read_records(snakemake.input.index)
used = [r for r in records if r["status"] == OK]
usable = [Item(r["key"], r["audio"], r["png"], r["label"]) for r in used]
rejected = [Rejection(**r) for r in snakemake.params.rejected] + [
    Rejection(r["audio"], r["reason"], r["label"], r["key"]) for r in records if r["status"] != OK
]
# audio_sha256 (the decoded samples' digest): exact duplicates stay on one side
entries = [Entry(r["key"], r["label"], r["png"], r["png_sha256"], r["audio_sha256"]) for r in used]
credits = track_credits(
    ((r["key"], r["name"]) for r in used),
    read_artist_tables(snakemake.input.artists),
    snakemake.params.sheet_artists,
)
try:  # the start-up's checks, on what the featurisation jobs decided
    check_tracks(usable, rejected, checks, root)
    plan = plan_split(entries, split_config, genres, root, fixed, credits)
except SplitError as err:
    sys.exit(str(split_error(err, split_config, len(usable), bool(fixed))))
except ConfigError as err:
    sys.exit(str(err))
for warning in plan.warnings:
    print(f"WARNING: {warning}")
info = describe(plan, entries, split_config, bool(fixed))
write_manifest(snakemake.output.manifest, entries, plan.assignment)
write_summary(
    snakemake.output.summary, entries, plan.assignment, genres, plan.grouping, info["asked"]
)
trees = {name: snakemake.output[name] for name in ("train", "val", "test")}
build_tree(trees, read_manifest(snakemake.output.manifest), genres)
with atomic_path(snakemake.output.info) as tmp:
    tmp.write_text(json.dumps(info, indent=2))
if fixed:
    print(f"split {len(plan.assignment)} tracks with the sample sheet's split column")
else:
    print(
        f"split {len(plan.assignment)} tracks with method '{split_config['method']}': {plan.kind}"
    )
if plan.grouping.duplicates:
    print(f"{len(plan.grouping.duplicates)} set(s) of exact duplicates kept together")
if info["asked"]:
    gap = "WARNING: " if info["largest_gap"] > FAR_APART else ""
    print(f"{gap}parts achieved against asked: {ratio_line(info['asked'], info['achieved'])}")
else:
    print("parts: " + ", ".join(f"{n} {s:.1%}" for n, s in info["achieved"].items()))
