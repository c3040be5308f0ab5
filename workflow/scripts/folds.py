import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
import pandas as pd

from genreflow import logs
from genreflow.artists import read_artist_tables, track_credits
from genreflow.blocks import OK, read_records
from genreflow.experiments import assign_folds
from genreflow.split import Entry, group_tracks, split_kind
from genreflow.startup import check_folds
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
records = [r for r in read_records(snakemake.input.index) if r["status"] == OK]
cv = snakemake.params.cv
# start-up counted the listed tracks; featurisation may have rejected some of them since
check_folds(
    Counter(r["label"] for r in records),
    snakemake.config["genres"],
    cv["folds"],
    whose="featurised (the featurisation jobs rejected others: results/qc/rejected.tsv)",
)
credits = track_credits(
    ((r["key"], r["name"]) for r in records),
    read_artist_tables(snakemake.input.artists),
    snakemake.params.sheet_artists,
)
# audio_sha256 (the decoded samples' digest): exact duplicates are dealt into one fold
entries = [
    Entry(r["key"], r["label"], r["png"], r["png_sha256"], r["audio_sha256"]) for r in records
]
grouping = group_tracks(entries, credits, cv["folds"], snakemake.params.group_by)
folds = assign_folds(
    ((r["key"], r["label"], Path(r["png"]).name) for r in records),
    cv["folds"],
    cv["seed"],
    grouping.label,
)
table = pd.DataFrame(
    [(r["key"], r["label"], folds[r["key"]], grouping.label[r["key"]]) for r in records],
    columns=["track", "genre", "fold", "group"],
)
write_table(snakemake.output[0], table.sort_values(["fold", "genre", "track"]))
print(f"folds: {split_kind('kfold', False, grouping)}")
print(table.groupby(["fold", "genre"]).size().unstack(fill_value=0).to_string())
