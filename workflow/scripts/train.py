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

from genreflow.embeddings import read_embeddings
from genreflow.plots import plot_curves
from genreflow.pngio import check_pngs
from genreflow.tables import read_manifest
from genreflow.training import fit
from genreflow.transfer import load_backbone

rows = read_manifest(snakemake.input.manifest)
# every split's spectrograms, test included: a damaged one stops the job before training
check_pngs([r["spectrogram"] for r in rows], [r["sha256"] for r in rows])
# the musicnn recipe: the pretrained network and its stored features (its inputs only)
musicnn = settings.recipe == "musicnn"
backbone = (
    load_backbone(snakemake.input.weights[0], snakemake.params.architecture) if musicnn else None
)
fit(
    rows=rows,
    genres=snakemake.params.genres,
    settings=settings,
    spec=SpectrogramParams.from_config(snakemake.params.spectrogram),
    seed=seed,
    tree_dirs={"train": snakemake.input.train, "val": snakemake.input.val},
    backup_dir=Path(snakemake.params.backup_dir),
    model_path=Path(snakemake.output.model),
    history_path=Path(snakemake.output.history),
    xla=runtime.xla,
    backbone=backbone,
    embeddings=read_embeddings(snakemake.input.embeddings) if musicnn else None,
)
plot_curves(
    Path(snakemake.output.history),
    Path(snakemake.output.curves),
    f"{settings.recipe} recipe, seed {seed}",
)
