import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
import numpy as np

from genreflow import logs
from genreflow.experiments import compare, plot_comparison
from genreflow.tables import read_track_predictions, write_table

logs.to_file(snakemake.log[0])
genres = snakemake.params.genres
runs = [json.loads(Path(p).read_text()) for p in snakemake.input.metrics]
# the seed ensemble of each fold: test probabilities averaged over the fold's seeds
by_fold = defaultdict(list)
for run, predictions in zip(runs, snakemake.input.predictions):
    by_fold[(run["variant"], run["fold"])].append(read_track_predictions(predictions))
ensembles = {}
for key, tables in by_fold.items():
    truth = np.array([genres.index(g) for g in tables[0][0]["true_genre"]])
    mean = np.mean([probabilities for _, probabilities in tables], axis=0)
    ensembles[key] = {"track_accuracy": float(np.mean(mean.argmax(axis=1) == truth))}
table = compare(runs, ensembles)
write_table(snakemake.output.table, table.round(4))
plot_comparison(table, runs, snakemake.output.plot)
print(table.to_string(index=False))
