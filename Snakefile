# genreflow: GTZAN-style audio -> spectrogram PNGs -> split -> Keras CNN -> metrics.
# Run:  snakemake --cores 2          (demo data; see README.md for real GTZAN and SLURM)
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


sys.path.insert(0, f"{workflow.basedir}/workflow")
from genreflow.config import typed_as_schema

# --config values inside braces arrive as strings; give them the schema's types first
config.update(typed_as_schema(config, f"{workflow.basedir}/config/schema.yaml"))


validate(config, "config/schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/pretrained.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/spectrograms.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/embeddings.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/hooks.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        EMBEDDINGS_TARGETS,
