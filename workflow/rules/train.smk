# One model per seed. BackupAndRestore state lives in results/model/.backup, so a killed
# training resumes at its last finished epoch when the workflow is run again.
from genreflow.runtime import resolve_backend
from genreflow.startup import check_backends, uses_conda
from genreflow.embeddings import embeddings_input, pretrained_of, weights_input

# With --sdm conda, the environment of the Keras backend that train.backend (or, with auto,
# KERAS_BACKEND) picks. PyTorch has no pinned environment here: run it in one of your own.
TRAIN_ENV = (
    "../../envs/train-jax.yaml"
    if resolve_backend(config["train"]["backend"]) == "jax"
    else "../../envs/train.yaml"
)
try:  # a backend the jobs cannot import fails at start-up, not after the old model is deleted
    check_backends(
        config["train"]["backend"],
        {name: v["train"]["backend"] for name, v in VARIANTS.items()},
        conda_env=(
            f"{workflow.basedir}/envs/{Path(TRAIN_ENV).name}"
            if uses_conda(workflow)
            else None
        ),
        envs_dir=f"{workflow.basedir}/envs",
    )
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}")


rule train:
    input:
        manifest="results/split/manifest.csv",
        train="results/split/train",
        val="results/split/val",
        # the musicnn recipe's (embeddings.smk); empty for the other recipes
        weights=weights_input(config),
        embeddings=embeddings_input(config, PLAN.blocks),
    output:
        model="results/model/seed_{seed}/model.keras",
        history="results/model/seed_{seed}/history.csv",
        curves="results/model/seed_{seed}/training_curves.png",
    log:
        "results/logs/train/seed_{seed}.log",
    conda:
        TRAIN_ENV
    threads: 8
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        genres=config["genres"],
        train=config["train"],
        spectrogram=config["spectrogram"],
        architecture=pretrained_of(config)[0],
        backup_dir="results/model/.backup/seed_{seed}",
    script:
        "../scripts/train.py"
