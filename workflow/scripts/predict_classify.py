import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.featurize import SpectrogramParams
from genreflow.predict import classify_files
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
configure(0, snakemake.threads, "off", "off", settings.deterministic, settings.backend)
classify_files(
    snakemake.input.model,
    list(snakemake.input.pngs),
    list(snakemake.params.relpaths),
    list(snakemake.output),
    snakemake.params.genres,
    settings,
    SpectrogramParams.from_config(snakemake.params.spectrogram),
)
print(f"classified {len(snakemake.output)} file(s)")
