# Pretrained musicnn: the musicnn wheel's TF1 checkpoint converted once into a Keras 3 weights
# file (the only rule that needs TensorFlow), or a file converted elsewhere (pretrained.weights).
import importlib.metadata
from functools import cache

from genreflow.musicnn import ARCHITECTURES, checkpoint_digest, checkpoint_dir

PRETRAINED = config["pretrained"]

if PRETRAINED["weights"]:
    if not PRETRAINED["weights"].endswith(".weights.h5"):
        raise WorkflowError(
            f"Invalid configuration: pretrained.weights: '{PRETRAINED['weights']}' is not a "
            "Keras weights file (its name must end in .weights.h5)"
        )
    if not os.path.isfile(PRETRAINED["weights"]):
        raise WorkflowError(
            f"Invalid configuration: pretrained.weights: '{PRETRAINED['weights']}' does not exist "
            "(leave it empty to convert the musicnn wheel's checkpoint here)"
        )


def pretrained_weights():
    """The musicnn weights file the consumers take as input: pretrained.weights when set (a
    file converted elsewhere, no job here), else what rule pretrained converts."""
    return (
        PRETRAINED["weights"]
        or f"results/pretrained/{PRETRAINED['architecture']}.weights.h5"
    )


@cache
def musicnn_checkpoint(architecture):
    """What the conversion depends on: the installed wheel's version and a digest of the
    checkpoint's files, so that another wheel or checkpoint converts again. Where snakemake
    runs without the wheel (--sdm conda: the job's environment brings it), it says so instead.
    """
    try:
        return {
            "wheel": importlib.metadata.version("musicnn"),
            "checkpoint_sha256": checkpoint_digest(checkpoint_dir(architecture)),
        }
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError) as err:
        return {"wheel": f"not installed where snakemake runs ({err})"}


rule pretrained:
    output:
        "results/pretrained/{architecture}.weights.h5",
    log:
        "results/logs/pretrained/{architecture}.log",
    wildcard_constraints:
        architecture="|".join(ARCHITECTURES),
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        musicnn=lambda wildcards: musicnn_checkpoint(wildcards.architecture),
    script:
        "../scripts/convert_musicnn.py"
