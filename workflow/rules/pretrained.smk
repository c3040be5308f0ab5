# Pretrained musicnn: the musicnn wheel's TF1 checkpoint converted once into a Keras 3 weights
# file (the only rule that needs TensorFlow), or a file converted elsewhere (pretrained.weights).
import functools

from genreflow import musicnn

try:
    musicnn.check_pretrained(config["pretrained"])
except ValueError as err:
    raise WorkflowError(f"Invalid configuration: {err}")

# The input function of the consumers: the path they read the musicnn weights from (a user's
# file when pretrained.weights is set, else what rule pretrained writes).
pretrained_weights = functools.partial(musicnn.pretrained_weights, config["pretrained"])
# the conversion's params, computed once per architecture and only for jobs in the DAG
wheel_stamp = functools.cache(musicnn.wheel_stamp)


rule pretrained:
    output:
        musicnn.converted_weights("{architecture}"),
    log:
        "results/logs/pretrained/{architecture}.log",
    wildcard_constraints:
        architecture="|".join(musicnn.ARCHITECTURES),
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # another wheel or checkpoint converts again
        musicnn=lambda wildcards: wheel_stamp(wildcards.architecture),
    script:
        "../scripts/convert_musicnn.py"
