# Start-up: the tracks, their featurisation blocks and what is left out, checked once; and the
# input functions and file lists the rules share.
import json
import os
import time
from pathlib import Path

from genreflow.blocks import (
    LEFT_OUT_ENV,
    REBUILD_ENV,
    JobReason,
    rebuild_requests,
    is_declarable,
    left_out_of,
    stamps_digest,
    unusable_pngs,
)
from genreflow.download import archive_name, expected_tracks
from genreflow.params import SpectrogramParams
from genreflow.config import ConfigError, check_settings, typed_as_schema
from genreflow.experiments import variant_config
from genreflow.demo import GTZAN_GENRES
from genreflow.plan import (
    Collection,
    gtzan_split_warning,
    is_demo,
    published_gtzan_ids,
    rerooted,
    as_item,
    check_plan,
    find_tracks,
    genre_folders,
    make_plan,
    sheet_collection,
)
from genreflow.tables import read_table
from genreflow.artists import ArtistTableError, artist_sources
from genreflow.split import Entry, start_up_report
from snakemake.utils import Paramspace, validate
import pandas as pd
from genreflow.predict import make_predict_plan, read_predictions_csv
from genreflow.summary import one_line_summary
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

SPLITS_USED = [
    s
    for s in ("val", "test")
    if config["split"]["ratios"].get(s, 0) > 0
    or config["split"]["method"] == "fault_filtered"
]
SEEDS = config["train"]["seeds"]
SPECTROGRAM = SpectrogramParams.from_config(config["spectrogram"])
SPECTROGRAM_SETTINGS = "results/spectrograms/settings.json"


def decided_at_submission(collection):
    """In a cluster job: the left-out files the submitting process decided on, so that the
    job's start-up opens no audio file (see genreflow.blocks.LEFT_OUT_ENV)."""
    if workflow.is_main_process or LEFT_OUT_ENV not in os.environ:
        return None
    return json.loads(os.environ[LEFT_OUT_ENV]).get(collection, {})


def publish_decisions(collection, blocks):
    """Main process: hand the start-up decisions to cluster jobs, and return the PNGs the target
    must ask for so that Snakemake makes them again in this run: missing ones, and damaged ones
    (no longer the size their job recorded), which are removed first."""
    if not workflow.is_main_process:
        return []
    decided = json.loads(os.environ.get(LEFT_OUT_ENV, "{}"))
    decided[collection] = left_out_of(blocks)
    os.environ[LEFT_OUT_ENV] = json.dumps(decided)
    damaged, missing = unusable_pngs(blocks)
    for png, why in damaged:
        logger.warning(
            f"genreflow: {png} is damaged ({why}); removed, it is made again"
        )
        os.remove(png)
    return sorted(missing + [png for png, _ in damaged])


DOWNLOAD = config["download"]


def find_collection():
    """The tracks, from a sample sheet or a GTZAN-layout folder; a configured download that has
    not happened yet gives the tracks its archive holds. Returns (collection, download pending).
    """
    if config["tracks"]:
        try:
            sheet = read_table(config["tracks"])
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"tracks: cannot read the sheet '{config['tracks']}' ({err})"
            )
        validate(sheet, "../../config/tracks.schema.yaml")
        config["genres"] = config["genres"] or sorted(sheet["genre"].unique())
        return sheet_collection(sheet, config["tracks"], config["genres"]), False
    if not config["genres"]:
        config["genres"] = (
            genre_folders(config["audio_dir"])
            if os.path.isdir(config["audio_dir"])
            else list(GTZAN_GENRES)
        )
    pending = bool(DOWNLOAD["url"]) and not os.path.isdir(config["audio_dir"])
    if not pending:
        found = find_tracks(config)
        if found.items or not DOWNLOAD["url"]:
            return found, False
    tracks = expected_tracks(config["audio_dir"], config["genres"], DOWNLOAD)
    return Collection([as_item(t) for t in tracks]), True


try:
    check_settings(config)
    COLLECTION, DOWNLOAD_PENDING = find_collection()
    if len(config["genres"]) < 2:
        raise ConfigError(f"genres: at least two are needed, not {config['genres']}")
    PLAN = make_plan(COLLECTION, config, decided_at_submission("spectrograms"))
    # --- artists (issue 20): who made each track; the split and the folds keep artists together
    ARTISTS = artist_sources(
        config["split"],
        config["tracks"],
        workflow.basedir,
        synthetic=is_demo(config["audio_dir"]) and not config["tracks"],
    )
    CREDITS = ARTISTS.credits((t.key, t.name) for t in PLAN.tracks)
    SPLIT_PLAN = check_plan(PLAN, config, workflow.basedir, CREDITS)
except (ConfigError, ArtistTableError) as err:
    raise WorkflowError(f"Invalid configuration: {err}")
TO_REMAKE = publish_decisions("spectrograms", PLAN.blocks)
# --- artists (issue 20): the kind of split, and genres with too few artists, said at start-up
if workflow.is_main_process:
    for note in start_up_report(
        SPLIT_PLAN,
        [Entry(t.key, t.label, t.png) for t in PLAN.tracks],
        config["split"],
        CREDITS,
        (
            config["experiments"]["cv"]["folds"]
            if config["experiments"]["variants"]
            else None
        ),
    ):
        logger.warning(note)
# --- end of the artists' start-up
if (
    workflow.is_main_process
    and not is_demo(config["audio_dir"])
    and not config["tracks"]
    and SPLIT_PLAN.kind == "random by track"  # issue 20: an artist split says so itself
):
    GTZAN_WARNING = gtzan_split_warning(
        PLAN,
        config,
        published_gtzan_ids(
            f"{workflow.basedir}/config/splits/{part}_stratified.txt"
            for part in ("train", "valid", "test")
        ),
    )
    if GTZAN_WARNING:
        logger.warning(GTZAN_WARNING)


# --- classifying new audio (the predict target) ---
PREDICT_DIR = config["predict"]["audio_dir"]
PREDICT_NAME = config["predict"]["name"]
PREDICT_CSV = f"results/predict/{PREDICT_NAME}.csv"
PREDICT_MODEL = "results/model/model.keras"
PREDICT_LOGS = f"results/logs/predict/{PREDICT_NAME}"
PREDICT = (
    make_predict_plan(
        PREDICT_DIR,
        PREDICT_NAME,
        config["featurize"]["hash_blocks"],
        decided_at_submission("predict"),
    )
    if PREDICT_DIR and os.path.isdir(PREDICT_DIR)
    else None
)
PREDICT_TO_REMAKE = publish_decisions("predict", PREDICT.blocks) if PREDICT else []


# --- experiments: variants compared by cross-validation (experiments.smk) ---
def variant_configs(variants):
    """name -> the variant's whole configuration, checked like the run's own."""
    configs = {}
    for name, spec in variants.items():
        # --config values inside braces arrive as strings, the variants' too
        merged = typed_as_schema(
            variant_config(config, spec, workflow.basedir),
            f"{workflow.basedir}/config/schema.yaml",
        )
        try:
            validate(merged, "../../config/schema.yaml")
            check_settings(merged)
        except (WorkflowError, ConfigError) as err:
            raise ConfigError(f"experiments.variants.{name}: {err}")
        if merged["genres"] != config["genres"]:
            raise ConfigError(
                f"experiments.variants.{name}: genres cannot differ between variants"
            )
        configs[name] = merged
    return configs


EXPERIMENT_SETTINGS = config["experiments"]
try:
    VARIANTS = variant_configs(EXPERIMENT_SETTINGS["variants"])
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}")
EXPERIMENTS = (
    Paramspace(
        pd.DataFrame(
            [
                (name, fold, seed)
                for name in VARIANTS
                for fold in range(EXPERIMENT_SETTINGS["cv"]["folds"])
                for seed in EXPERIMENT_SETTINGS["seeds"] or config["train"]["seeds"]
            ],
            columns=["variant", "fold", "seed"],
        )
    )
    if VARIANTS
    else None
)

# Spectrogram sets: the run's, and one more for each other setting a variant asks for (variants
# with the same settings share the PNGs). settings rule -> (settings file, settings, blocks)
SPECTROGRAM_SETS = {
    "spectrograms": (SPECTROGRAM_SETTINGS, config["spectrogram"], PLAN.blocks)
}
VARIANT_INDEXES = {}  # variant -> its spectrograms' index tables
for name, variant in VARIANTS.items():
    signature = SpectrogramParams.from_config(variant["spectrogram"]).signature()
    if signature == SPECTROGRAM.signature():
        VARIANT_INDEXES[name] = PLAN.indexes
        continue
    rule_name, root = (
        f"spectrograms_{signature[:8]}",
        f"results/experiments/spectrograms/{signature[:8]}",
    )
    if rule_name not in SPECTROGRAM_SETS:
        blocks = rerooted(PLAN, root, decided_at_submission(rule_name))
        SPECTROGRAM_SETS[rule_name] = (
            f"{root}/settings.json",
            variant["spectrogram"],
            blocks,
        )
        TO_REMAKE += publish_decisions(rule_name, blocks)
    VARIANT_INDEXES[name] = [b.index for b in SPECTROGRAM_SETS[rule_name][2].values()]

# every featurisation job of this run: rule name -> (block, its settings file, its settings)
FEATURIZE_BLOCKS = {
    f"{rule_name}_{name}": (block, settings_file, spectrogram)
    for rule_name, (settings_file, spectrogram, blocks) in SPECTROGRAM_SETS.items()
    for name, block in blocks.items()
}
if PREDICT:
    FEATURIZE_BLOCKS.update(
        {
            f"predict_spectrograms_{name}": (
                b,
                SPECTROGRAM_SETTINGS,
                config["spectrogram"],
            )
            for name, b in PREDICT.blocks.items()
        }
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
    return [PREDICT_CSV, *PREDICT_TO_REMAKE]


def block_members(block):
    """A block job's members for its script (derived: not stored as a rerun trigger)."""
    return lambda wildcards, output: [m.__dict__ for m in block.members]


def block_left_out(block):
    return lambda wildcards, output: [
        [item.__dict__, reason] for item, reason in block.left_out
    ]


def block_stamps(block):
    """Changes when any member's audio is replaced, even by an older copy (cp -p)."""
    return lambda wildcards: stamps_digest(block.members)


def final_outputs():
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
        *(["results/experiments/comparison.tsv"] if EXPERIMENTS else []),
        # asked for by name: Snakemake remakes a missing output only when it is requested
        *TO_REMAKE,
    ]


def download_target(wildcards):
    if not DOWNLOAD["url"]:
        raise WorkflowError(
            "download.url is not set: nothing to download (audio_dir is used as it is)"
        )
    return [t.audio for t in COLLECTION.items] if DOWNLOAD_PENDING else []


# --- run hooks (hooks.smk) ---
RUN_STARTED = time.time()
# jobs that keep what is current and redo only the rest (update() outputs)
INCREMENTAL_RULES = set(FEATURIZE_BLOCKS) | {
    f"predict_classify_{name}" for name in (PREDICT.blocks if PREDICT else [])
}


def forced_by_user():
    """The names of rules and the paths of files the command line forces (-R, --forcerun, --force)."""
    settings, dag = workflow.dag_settings, workflow.dag
    names = {rule.name for rule in workflow.rules}
    requested = {str(target) for target in settings.forcerun}
    if settings.forcetargets:
        requested |= {str(f) for f in dag.targetfiles}
        requested |= {getattr(r, "name", str(r)) for r in dag.targetrules}
    files = {os.path.normpath(f) for f in requested - names}
    return requested & names, files


def planned_incremental_jobs():
    dag = workflow.dag
    for job in dag.needrun_jobs():
        if job.rule.name in INCREMENTAL_RULES:
            reason = dag.reason(job)
            yield JobReason(
                job.rule.name,
                tuple(map(str, job.output)),
                reason.code_changed,
                reason.software_stack_changed,
                frozenset(map(str, reason.updated_input | reason.updated_input_run)),
            )


def end_of_run_lines(started: float) -> list[str]:
    lines = []
    try:
        lines.append(
            one_line_summary(
                json.loads(Path("results/metrics/metrics.json").read_text())
            )
        )
    except FileNotFoundError:
        pass  # nothing trained yet (e.g. only the download ran)
    except (ValueError, KeyError, TypeError) as err:
        lines.append(f"genreflow: results/metrics/metrics.json is unreadable ({err!r})")
    csv = Path(f"results/predict/{config['predict']['name']}.csv")
    if csv.exists() and csv.stat().st_mtime >= started:
        lines.append(
            f"genreflow: {len(read_predictions_csv(csv))} file(s) classified into {csv}"
        )
    return lines
