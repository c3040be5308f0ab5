import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import OK, read_records
from genreflow.predict import prediction_notes, predictions_table, write_predictions_csv
from genreflow.tables import write_report_table

logs.to_file(snakemake.log[0])
records = read_records(*snakemake.input.tables)
notes = {
    r["key"]: prediction_notes(r, snakemake.params.window_s, snakemake.params.offset_s)
    for r in records
    if r["status"] == OK
}
table = predictions_table(
    snakemake.input.probabilities, snakemake.params.order, snakemake.params.genres, notes
)
write_predictions_csv(snakemake.output.csv, table)
rejected = dict(snakemake.params.rejected)
# files the featurisation jobs could not read
rejected.update({r["name"]: r["reason"] for r in records if r["status"] != OK})
write_report_table(snakemake.output.rejected, ("file", "reason"), sorted(rejected.items()))
tally = table["top_genre"].value_counts()
print(
    f"{len(table)} file(s) classified into {snakemake.output.csv}: "
    + ", ".join(f"{g} {n}" for g, n in tally.items())
)
print(f"{len(rejected)} file(s) skipped, listed in {snakemake.output.rejected}")
