import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.experiments import compare, plot_comparison
from genreflow.summary import ensemble_split
from genreflow.tables import write_table

logs.to_file(snakemake.log[0])
genres = snakemake.params.genres
runs = [json.loads(Path(p).read_text()) for p in snakemake.input.metrics]
# the seed ensemble of each fold: test probabilities averaged over the fold's seeds
by_fold = defaultdict(list)
for run, predictions in zip(runs, snakemake.input.predictions):
    by_fold[(run["variant"], run["fold"])].append(predictions)
ensembles = {key: ensemble_split(files, genres)[2] for key, files in by_fold.items()}
table = compare(runs, ensembles)
write_table(snakemake.output.table, table.round(4))
plot_comparison(table, runs, snakemake.output.plot)
print(table.to_string(index=False))
