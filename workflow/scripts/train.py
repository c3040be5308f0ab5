import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.params import SpectrogramParams
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
seed = int(snakemake.wildcards.seed)
runtime = configure(
    seed,
    snakemake.threads,
    settings.mixed_precision,
    settings.xla,
    settings.deterministic,
    settings.backend,
)

from genreflow import training, transfer
from genreflow.embeddings import read_embeddings
from genreflow.plots import plot_curves
from genreflow.pngio import check_pngs
from genreflow.tables import read_manifest

rows = read_manifest(snakemake.input.manifest)
# every split's spectrograms, test included: a damaged one stops the job before training
check_pngs([r["spectrogram"] for r in rows], [r["sha256"] for r in rows])
genres = snakemake.params.genres
spec = SpectrogramParams.from_config(snakemake.params.spectrogram)
backup_dir = Path(snakemake.params.backup_dir)
model_path, history_path = Path(snakemake.output.model), Path(snakemake.output.history)
if settings.recipe == "musicnn":
    # the pretrained network and its stored features (its inputs only)
    transfer.fit(
        rows,
        genres,
        settings,
        spec,
        seed,
        transfer.load_backbone(snakemake.input.weights[0], snakemake.params.architecture),
        read_embeddings(snakemake.input.embeddings),
        backup_dir,
        model_path,
        history_path,
        xla=runtime.xla,
    )
else:
    training.fit(
        rows,
        genres,
        settings,
        spec,
        seed,
        {"train": snakemake.input.train, "val": snakemake.input.val},
        backup_dir,
        model_path,
        history_path,
        xla=runtime.xla,
    )
plot_curves(
    Path(snakemake.output.history),
    Path(snakemake.output.curves),
    f"{settings.recipe} recipe, seed {seed}",
)
