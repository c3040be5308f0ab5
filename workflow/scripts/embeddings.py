import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from genreflow import logs
from genreflow.recipe import TrainSettings
from genreflow.runtime import configure

logs.to_file(snakemake.log[0])
settings = TrainSettings.from_config(snakemake.params.train)
# float32 on every device: the stored features stand for the network in evaluation
configure(0, snakemake.threads, "off", "off", settings.deterministic, settings.backend)

from genreflow.atomic import sha256_of
from genreflow.blocks import read_records
from genreflow.transfer import load_backbone, update_block

weights, architecture = snakemake.input.weights, snakemake.params.architecture
count = update_block(
    read_records(snakemake.input.table),
    snakemake.output[0],
    load_backbone(weights, architecture),
    sha256_of(weights),
    architecture,
)
print(f"computed the {architecture} features of {count} clip(s) into {snakemake.output[0]}")
