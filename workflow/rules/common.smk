# Start-up: the tracks (found by name) and their featurisation blocks, light checks, and the
# input functions and file lists the rules share. Nothing here reads results/ or writes a file:
# what a file holds is decided by the featurisation job that reads it (see spectrograms.smk).
import json
import os
import time
from pathlib import Path

from genreflow.blocks import is_declarable, set_index_path, stamps_digest, stamps_path
from genreflow.download import archive_name, expected_tracks
from genreflow.params import SpectrogramParams
from genreflow.config import ConfigError, check_settings, typed_as_schema
from genreflow.startup import check_folds, check_sheet, listed_counts, offset_warnings
from genreflow.experiments import variant_config
from genreflow.demo import GTZAN_GENRES
from genreflow.plan import (
    SPECTROGRAM_ROOT,
    Collection,
    as_item,
    check_split,
    check_tracks,
    find_tracks,
    genre_folders,
    gtzan_split_warning,
    is_demo,
    make_plan,
    published_gtzan_ids,
    rejection_summary,
    sheet_collection,
    sniffed,
)
from genreflow.tables import read_table
from genreflow.tracks import Rejection
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
        check_sheet(sheet, config["tracks"])
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


def start_up_checks(plan):
    """Main process only: name the files that are certainly not audio, refuse a dataset that
    cannot work even before featurisation (the split job checks again what the jobs decided),
    and say which kind of split the run makes (by artist, partly or wholly by track).
    """
    rejected = plan.left_out + sniffed(plan.tracks)
    if rejected:
        logger.warning(rejection_summary(rejected))
    bad = {r.track_id for r in rejected}
    usable = [t for t in plan.tracks if t.key not in bad]
    check_tracks(usable, rejected, SPLIT_CHECKS, workflow.basedir)
    # artists (issue 20): the split planned on the names, grouped as the split job will group
    credits = ARTISTS.credits((t.key, t.name) for t in usable)
    split_plan = check_split(
        usable,
        config["genres"],
        config["split"],
        workflow.basedir,
        SPLIT_CHECKS["fixed_split"],
        credits,
    )
    # the kind of split, and genres with too few artists for the parts or the folds
    for note in start_up_report(
        split_plan,
        [Entry(t.key, t.label, t.png) for t in usable],
        config["split"],
        credits,
        EXPERIMENT_FOLDS,
    ):
        logger.warning(note)
    if (
        not is_demo(config["audio_dir"])
        and not config["tracks"]
        and split_plan.kind == "random by track"  # an artist split says so itself
    ):
        lists = [
            f"{workflow.basedir}/config/splits/{p}_stratified.txt"
            for p in ("train", "valid", "test")
        ]
        warning = gtzan_split_warning(plan, config, published_gtzan_ids(lists))
        if warning:
            logger.warning(warning)


try:
    check_settings(config)
    COLLECTION, DOWNLOAD_PENDING = find_collection()
    if len(config["genres"]) < 2:
        raise ConfigError(f"genres: at least two are needed, not {config['genres']}")
    PLAN = make_plan(COLLECTION, config)
    # artists (issue 20): the artist tables (config data, inputs of the split and folds jobs)
    # and a sheet's artist column; the split and the folds keep one artist's tracks together
    ARTISTS = artist_sources(
        config["split"],
        config["tracks"],
        workflow.basedir,
        synthetic=is_demo(config["audio_dir"]) and not config["tracks"],
    )
    EXPERIMENT_FOLDS = (
        config["experiments"]["cv"]["folds"]
        if config["experiments"]["variants"]
        else None
    )
    # what the split job needs to make the start-up checks again on the jobs' decisions
    SPLIT_CHECKS = {
        **{k: config[k] for k in ("strict", "tracks", "audio_dir", "genres", "split")},
        "fixed_split": COLLECTION.fixed_split,  # a sample sheet's split column
    }
    if workflow.is_main_process:
        start_up_checks(PLAN)
except (ConfigError, ArtistTableError) as err:
    raise WorkflowError(f"Invalid configuration: {err}")


# --- classifying new audio (the predict target) ---
PREDICT_DIR = config["predict"]["audio_dir"]
PREDICT_NAME = config["predict"]["name"]
PREDICT_CSV = f"results/predict/{PREDICT_NAME}.csv"
PREDICT_MODEL = "results/model/model.keras"
PREDICT_LOGS = f"results/logs/predict/{PREDICT_NAME}"
PREDICT = (
    make_predict_plan(PREDICT_DIR, PREDICT_NAME, config["featurize"]["hash_blocks"])
    if PREDICT_DIR and os.path.isdir(PREDICT_DIR)
    else None
)


# --- experiments: variants compared by cross-validation (experiments.smk) ---
def variant_configs(variants):
    """name -> the variant's whole configuration, checked like the run's own."""
    configs = {}
    for name, spec in variants.items():
        try:
            # --config values inside braces arrive as strings, the variants' too
            merged = typed_as_schema(
                variant_config(config, spec, workflow.basedir),
                f"{workflow.basedir}/config/schema.yaml",
            )
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
    if VARIANTS:
        check_folds(
            listed_counts(COLLECTION.items, config["known_bad_tracks"]),
            config["genres"],
            EXPERIMENT_SETTINGS["cv"]["folds"],
            whose="listed (less known_bad_tracks)",
        )
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}")
if workflow.is_main_process:  # a header read of a few clips: no cluster job repeats it
    for warning in offset_warnings(
        config, VARIANTS, [i.audio for i in COLLECTION.items]
    ):
        logger.warning(warning)
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
# with the same settings share the PNGs). Rule prefix -> (root, settings, blocks); the blocks of
# every set share the run's audio stamps tables.
SPECTROGRAM_SETS = {
    "spectrograms": (SPECTROGRAM_ROOT, config["spectrogram"], PLAN.blocks)
}
VARIANT_INDEX = {}  # variant -> the index of its spectrograms
for name, variant in VARIANTS.items():
    params = SpectrogramParams.from_config(variant["spectrogram"])
    same = [
        prefix
        for prefix, (_, settings, _) in SPECTROGRAM_SETS.items()
        if SpectrogramParams.from_config(settings) == params
    ]
    prefix = same[0] if same else f"spectrograms_for_{name}"
    if not same:
        root = f"results/experiments/spectrograms/{name}"
        blocks = {b: block.moved(root) for b, block in PLAN.blocks.items()}
        SPECTROGRAM_SETS[prefix] = (root, variant["spectrogram"], blocks)
    VARIANT_INDEX[name] = set_index_path(SPECTROGRAM_SETS[prefix][0])


def spectrogram_set_of(spectrogram):
    """(rule prefix, blocks) of the spectrogram set made with these settings."""
    params = SpectrogramParams.from_config(spectrogram)
    for prefix, (_, settings, blocks) in SPECTROGRAM_SETS.items():
        if SpectrogramParams.from_config(settings) == params:
            return prefix, blocks


def predict_target(wildcards):
    # raised only when the predict target is asked for, so a wrong folder never blocks training
    if not PREDICT_DIR:
        raise WorkflowError(
            "predict.audio_dir is not set: name the folder to classify, e.g. "
            "snakemake predict --config 'predict={audio_dir: my_music}'"
        )
    if PREDICT is None:
        raise WorkflowError(f"predict.audio_dir: '{PREDICT_DIR}' is not a folder")
    return [PREDICT_CSV]


def block_members(block):
    """A block's members for its audio job (derived from the output, so Snakemake does not
    store them as a params trigger: the stamps digest is that trigger)."""
    return lambda wildcards, output: [m.__dict__ for m in block.members]


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
    ]


def download_target(wildcards):
    if not DOWNLOAD["url"]:
        raise WorkflowError(
            "download.url is not set: nothing to download (audio_dir is used as it is)"
        )
    return [t.audio for t in COLLECTION.items] if DOWNLOAD_PENDING else []


# --- the end of a run (onsuccess in the Snakefile) ---
RUN_STARTED = time.time()


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
    rejected = Path("results/qc/rejected.tsv")
    if rejected.exists() and rejected.stat().st_mtime >= started:
        rows = read_table(rejected).to_dict("records")
        if rows:  # the featurisation jobs' decisions, which start-up cannot know
            lines.append(rejection_summary([Rejection(**r) for r in rows]))
    csv = Path(f"results/predict/{config['predict']['name']}.csv")
    if csv.exists() and csv.stat().st_mtime >= started:
        lines.append(
            f"genreflow: {len(read_predictions_csv(csv))} file(s) classified into {csv}"
        )
    return lines
