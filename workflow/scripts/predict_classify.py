import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.blocks import forced_for
from genreflow.params import SpectrogramParams
from genreflow.predict import classify_block
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
configure(0, snakemake.threads, "off", "off", settings.deterministic, settings.backend)
count = classify_block(
    snakemake.input.model,
    snakemake.input.index,
    snakemake.output[0],
    snakemake.params.genres,
    settings,
    SpectrogramParams.from_config(snakemake.params.spectrogram),
    forced_for(snakemake.rule),
)
print(f"classified {count} file(s)")
