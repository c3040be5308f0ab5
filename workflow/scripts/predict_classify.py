import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.params import SpectrogramParams
from genreflow.predict import classify_block
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
configure(0, snakemake.threads, "off", "off", settings.deterministic, settings.backend)
count = classify_block(
    snakemake.input.model,
    snakemake.input.table,
    snakemake.output[0],
    snakemake.params.genres,
    settings,
    SpectrogramParams.from_config(snakemake.params.spectrogram),
)
print(f"classified {count} file(s)")
