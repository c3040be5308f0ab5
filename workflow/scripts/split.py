import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import OK, Item, read_records
from genreflow.config import ConfigError
from genreflow.plan import check_tracks, split_error
from genreflow.split import Entry, SplitError, assign, build_tree, write_manifest, write_summary
from genreflow.tables import read_manifest
from genreflow.tracks import Rejection

logs.to_file(snakemake.log[0])
checks, root = snakemake.params.checks, Path(snakemake.scriptdir).resolve().parents[1]
records = read_records(snakemake.input[0])
usable = [Item(r["key"], r["audio"], r["png"], r["label"]) for r in records if r["status"] == OK]
rejected = [Rejection(**r) for r in snakemake.params.rejected] + [
    Rejection(r["audio"], r["reason"], r["label"], r["key"]) for r in records if r["status"] != OK
]
entries = [
    Entry(r["key"], r["label"], r["png"], r["png_sha256"]) for r in records if r["status"] == OK
]
try:  # the start-up's checks, on what the featurisation jobs decided
    check_tracks(usable, rejected, checks, root)
    assignment, warnings = assign(
        entries, checks["split"], checks["genres"], root, checks["fixed_split"]
    )
except SplitError as err:
    sys.exit(str(split_error(err, checks["split"], len(usable), bool(checks["fixed_split"]))))
except ConfigError as err:
    sys.exit(str(err))
for warning in warnings:
    print(f"WARNING: {warning}")
write_manifest(snakemake.output.manifest, entries, assignment)
write_summary(snakemake.output.summary, entries, assignment, checks["genres"])
trees = {name: snakemake.output[name] for name in ("train", "val", "test")}
build_tree(trees, read_manifest(snakemake.output.manifest), checks["genres"])
method = (
    "the sample sheet's split column"
    if checks["fixed_split"]
    else f"method '{checks['split']['method']}'"
)
print(f"split {len(assignment)} tracks with {method}")
