import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.params import SpectrogramParams
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
configure(
    int(snakemake.wildcards.seed),
    snakemake.threads,
    "off",
    "off",
    settings.deterministic,
    settings.backend,
)

from genreflow.embeddings import read_embeddings
from genreflow.evaluation import evaluate_split, write_predictions, write_seed_metrics
from genreflow.tables import read_manifest
from genreflow.transfer import load_classifier

model = load_classifier(snakemake.input.model)
# the musicnn recipe's stored features (its input is empty for the other recipes)
embeddings = read_embeddings(snakemake.input.embeddings) if settings.recipe == "musicnn" else None
rows = read_manifest(snakemake.input.manifest)
spec = SpectrogramParams.from_config(snakemake.params.spectrogram)
genres = snakemake.params.genres
results = {}
for split, out_csv in zip(snakemake.params.splits, snakemake.output.predictions):
    split_rows = [r for r in rows if r["split"] == split]
    if not split_rows:
        write_predictions(out_csv, [], [], genres)
        continue
    results[split], probabilities = evaluate_split(
        model, split_rows, genres, settings, spec, embeddings
    )
    write_predictions(out_csv, split_rows, probabilities, genres)
    print(
        f"{split}: track accuracy {results[split]['track_accuracy']:.3f}, window accuracy {results[split]['window_accuracy']:.3f}"
    )
write_seed_metrics(snakemake.output.metrics, int(snakemake.wildcards.seed), results)
