# Helpers shared by the rules: the featurisation plan and the lists of files each stage needs.
import os

from genreflow.featurize import SpectrogramParams
from genreflow.plan import ConfigError, check_plan, make_plan, spectrogram_path
from snakemake.exceptions import WorkflowError

SPLITS_USED = [
    s
    for s in ("val", "test")
    if config["split"]["ratios"].get(s, 0) > 0
    or config["split"]["method"] == "fault_filtered"
]
SEEDS = config["train"]["seeds"]
SPECTROGRAM = SpectrogramParams.from_config(config["spectrogram"])
DOWNLOAD_PENDING = bool(config["download"]["url"]) and not os.path.isdir(
    config["audio_dir"]
)

if DOWNLOAD_PENDING:
    PLAN = None
else:
    try:
        PLAN = make_plan(config, SPECTROGRAM.signature())
        check_plan(PLAN, config, workflow.basedir)
    except ConfigError as err:
        raise WorkflowError(f"Invalid configuration: {err}")


def spectrograms():
    return [spectrogram_path(t) for t in PLAN.tracks]


def final_outputs():
    if DOWNLOAD_PENDING:
        return [config["audio_dir"]]
    return [
        "results/metrics/metrics.json",
        "results/metrics/confusion_matrix.png",
        "results/model/model.keras",
        "results/model/history.csv",
        "results/model/training_curves.png",
        "results/qc/rejected.tsv",
        "results/qc/tracks.tsv",
        "results/split/summary.tsv",
        *expand("results/predictions/{split}.csv", split=SPLITS_USED),
    ]


# --- classifying new audio (the predict target) ---
from genreflow.predict import make_predict_plan

PREDICT_DIR = config["predict"]["audio_dir"]
PREDICT_NAME = config["predict"]["name"]
PREDICT_CSV = f"results/predict/{PREDICT_NAME}.csv"
PREDICT_MODEL = "results/model/model.keras"
PREDICT_LOGS = f"results/logs/predict/{PREDICT_NAME}"
PREDICT = (
    make_predict_plan(
        PREDICT_DIR,
        PREDICT_NAME,
        SPECTROGRAM.signature(),
        PREDICT_MODEL,
        config["featurize"]["batch_size"],
        config["predict"]["batch_size"],
    )
    if PREDICT_DIR and os.path.isdir(PREDICT_DIR)
    else None
)


def predict_target(wildcards):
    # raised only when the predict target is asked for, so a wrong folder never blocks training
    if not PREDICT_DIR:
        raise WorkflowError(
            "predict.audio_dir is not set: name the folder to classify, e.g. "
            "snakemake predict --config 'predict={audio_dir: my_music}'"
        )
    if PREDICT is None:
        raise WorkflowError(f"predict.audio_dir: '{PREDICT_DIR}' is not a folder")
    return PREDICT_CSV
