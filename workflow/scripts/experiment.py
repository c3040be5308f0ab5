import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.params import SpectrogramParams
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
seed, fold = int(snakemake.wildcards.seed), int(snakemake.wildcards.fold)
runtime = configure(
    seed,
    snakemake.threads,
    settings.mixed_precision,
    settings.xla,
    settings.deterministic,
    settings.backend,
)

from genreflow import training, transfer
from genreflow.atomic import atomic_path
from genreflow.blocks import read_records
from genreflow.embeddings import read_embeddings
from genreflow.evaluation import evaluate_split, write_predictions
from genreflow.experiments import fold_manifest
from genreflow.pngio import check_pngs
from genreflow.split import build_tree
from genreflow.tables import read_table

genres, spec = snakemake.params.genres, SpectrogramParams.from_config(snakemake.params.spectrogram)
folds = {r["track"]: int(r["fold"]) for r in read_table(snakemake.input.folds).to_dict("records")}
rows = fold_manifest(folds, read_records(snakemake.input.index), fold, snakemake.params.folds)
check_pngs([r["spectrogram"] for r in rows], [r["sha256"] for r in rows])  # before training
# the musicnn recipe: the pretrained network and its stored features (its inputs only)
musicnn = settings.recipe == "musicnn"
backbone = (
    transfer.load_backbone(snakemake.input.weights[0], snakemake.params.architecture)
    if musicnn
    else None
)
embeddings = read_embeddings(snakemake.input.embeddings) if musicnn else None
print(
    f"fold {fold}: "
    + ", ".join(f"{s} {sum(r['split'] == s for r in rows)}" for s in ("train", "val", "test"))
)
with tempfile.TemporaryDirectory(prefix="genreflow-experiment-") as tmp:
    trees = {s: f"{tmp}/{s}" for s in ("train", "val")}  # the blog recipe reads folder trees
    build_tree(trees, rows, genres)
    started = time.perf_counter()
    if musicnn:
        model = transfer.fit(
            rows,
            genres,
            settings,
            spec,
            seed,
            backbone,
            embeddings,
            Path(snakemake.params.backup_dir),
            Path(snakemake.output.model),
            Path(snakemake.output.history),
            xla=runtime.xla,
        )
    else:
        model = training.fit(
            rows,
            genres,
            settings,
            spec,
            seed,
            trees,
            Path(snakemake.params.backup_dir),
            Path(snakemake.output.model),
            Path(snakemake.output.history),
            xla=runtime.xla,
        )
    train_s = time.perf_counter() - started
scores = {}
for split in ("test", "val"):  # val only for the record: it picked the epoch
    split_rows = [r for r in rows if r["split"] == split]
    scores[split], probabilities = evaluate_split(
        model, split_rows, genres, settings, spec, embeddings
    )
    if split == "test":
        write_predictions(snakemake.output.predictions, split_rows, probabilities, genres)
result = {
    **dict(snakemake.wildcards.items()),
    "fold": fold,
    "seed": seed,
    "train_s": train_s,
    **scores,
}
with atomic_path(snakemake.output.metrics) as tmp:
    tmp.write_text(json.dumps(result, indent=2))
print(f"test track accuracy {scores['test']['track_accuracy']:.3f}, trained in {train_s:.0f} s")
