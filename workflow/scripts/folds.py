import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
import pandas as pd

from genreflow import logs
from genreflow.artists import read_artist_tables, track_credits
from genreflow.blocks import OK, read_index
from genreflow.experiments import assign_folds
from genreflow.split import Entry, group_tracks, split_kind
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
records = [
    r for index in snakemake.input.indexes for r in read_index(index).values() if r["status"] == OK
]
cv = snakemake.params.cv
credits = track_credits(
    ((r["key"], r["name"]) for r in records),
    read_artist_tables(snakemake.input.artists),
    snakemake.params.sheet_artists,
)
entries = [
    Entry(r["key"], r["label"], r["png"], r["png_sha256"], r.get("audio_sha256", ""))
    for r in records
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
