import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
import pandas as pd

from genreflow import logs
from genreflow.blocks import OK, read_records
from genreflow.experiments import assign_folds
from genreflow.startup import check_folds
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
records = [r for r in read_records(snakemake.input[0]) if r["status"] == OK]
cv = snakemake.params.cv
# start-up counted the listed tracks; featurisation may have rejected some of them since
check_folds(
    Counter(r["label"] for r in records),
    snakemake.config["genres"],
    cv["folds"],
    whose="featurised (the featurisation jobs rejected others: results/qc/rejected.tsv)",
)
folds = assign_folds(
    ((r["key"], r["label"], Path(r["png"]).name) for r in records), cv["folds"], cv["seed"]
)
table = pd.DataFrame(
    [(r["key"], r["label"], folds[r["key"]]) for r in records], columns=["track", "genre", "fold"]
)
write_table(snakemake.output[0], table.sort_values(["fold", "genre", "track"]))
print(table.groupby(["fold", "genre"]).size().unstack(fill_value=0).to_string())
