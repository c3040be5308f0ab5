"""What would fail, mislead or lose work later is refused at start-up (issue 19), naming the key,
file or variant and the reason: folds beyond the smallest genre, a backend the jobs cannot
import, ambiguous sample sheets, a variant's missing preset or its own experiments; a warning for
spectrogram.offset_s beyond the clips; a predict row that says what was adapted; and a training
that fails leaves the previous model usable."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, make_dataset, run_snakemake, tone, write_audio

from genreflow.blocks import Item
from genreflow.config import ConfigError
from genreflow.plan import sheet_split_message
from genreflow.predict import prediction_notes, read_predictions_csv
from genreflow.startup import (
    backend_problem,
    check_backends,
    check_folds,
    check_sheet,
    env_packages,
    listed_counts,
    offset_warnings,
)

GENRES = ["blues", "jazz", "rock"]
ENVS = REPO / "envs"
SMALL = {  # seconds, not minutes: 2-s clips, a one-block network, one epoch
    "spectrogram": {"kind": "logmel", "duration_s": 2.0},
    "train": {
        "recipe": "cnn",
        "window_s": 1.0,
        "eval_hop_s": 1.0,
        "filters": [4],
        "epochs": 1,
        "min_steps_per_epoch": 1,
    },
}


def start_up(workdir: Path, config: dict, *args: str):
    """A dry run with ``config``; returns (return code, all output)."""
    cfg = workdir / "case.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    proc = run_snakemake(
        workdir, "-n", "--cores", "1", "--configfile", str(cfg), *args, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def refused(workdir: Path, config: dict, *args: str) -> str:
    code, out = start_up(workdir, config, *args)
    assert code != 0 and "Invalid configuration" in out, out[-3000:]
    assert not (workdir / "results").exists(), "a refused start-up runs nothing"
    return out


@pytest.fixture(scope="module")
def five_a_genre(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("refusals")
    make_dataset(root / "audio", GENRES, 5, seconds=2.0)
    return root


# --- 1. folds beyond the smallest genre ------------------------------------------------------


def test_check_folds_names_the_key_the_genre_and_its_count():
    with pytest.raises(ConfigError) as err:
        check_folds({"blues": 5, "jazz": 9}, ["blues", "jazz"], 7, whose="listed")
    assert str(err.value).startswith("experiments.cv.folds: 7 folds")
    assert "'blues' has 5 listed" in str(err.value) and "jazz" not in str(err.value)
    assert "set experiments.cv.folds to 5 or fewer" in str(err.value)
    check_folds({"blues": 5, "jazz": 9}, ["blues", "jazz"], 5, whose="listed")
    with pytest.raises(ConfigError, match="'rock' has 0"):
        check_folds({"blues": 5}, ["blues", "rock"], 3, whose="listed")


def test_listed_counts_leave_out_known_bad_tracks():
    items = [Item(f"jazz.0000{i}", "", "", "jazz") for i in range(3)]
    assert listed_counts(items, ["jazz.00001"]) == {"jazz": 2}


def test_more_folds_than_tracks_in_a_genre_is_refused_at_start_up(five_a_genre):
    experiments = {"variants": {"a": {}}, "cv": {"folds": 7}}
    out = refused(
        five_a_genre, {"audio_dir": "audio", "genres": GENRES, "experiments": experiments}
    )
    assert "experiments.cv.folds: 7 folds need at least 7 tracks in every genre" in out
    assert "'blues' has 5" in out and "'rock' has 5" in out
    experiments["cv"]["folds"] = 5
    code, out = start_up(
        five_a_genre, {"audio_dir": "audio", "genres": GENRES, "experiments": experiments}
    )
    assert code == 0 and "experiment" in out, out[-3000:]


def test_the_folds_job_refuses_what_featurisation_left_too_few_of(tmp_path):
    """Start-up counts the listed tracks; a clip whose header passes but whose audio cannot be
    decoded is rejected only by its featurisation job: the folds job then names the shortfall."""
    make_dataset(tmp_path / "audio", GENRES, 5, seconds=2.0)
    (tmp_path / "audio/blues/blues.00003.wav").unlink()
    broken = write_audio(tmp_path / "audio/blues/blues.00003.flac", tone(2.0), fmt="FLAC")
    data = bytearray(broken.read_bytes())
    data[300::7] = bytes(b ^ 0x5A for b in data[300::7])  # frames libsndfile cannot decode
    broken.write_bytes(bytes(data))
    config = {
        "audio_dir": "audio",
        "genres": GENRES,
        **SMALL,
        "experiments": {"variants": {"a": {}}, "cv": {"folds": 5}},
    }
    cfg = tmp_path / "case.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = ""
    for _ in range(2):  # the featurisation job fails once naming the file; the next run goes on
        proc = run_snakemake(
            tmp_path,
            "results/experiments/folds.tsv",
            "--cores",
            "2",
            "--configfile",
            str(cfg),
            check=False,
        )
        out += proc.stdout + proc.stderr
    assert "experiments.cv.folds: 5 folds need at least 5 tracks in every genre" in out
    assert "'blues' has 4 featurised" in out, out[-3000:]
    assert not (tmp_path / "results/experiments/folds.tsv").exists()


# --- 2. a backend the jobs cannot import -----------------------------------------------------


def test_env_files_list_their_frameworks():
    assert {"tensorflow", "keras"} <= env_packages(ENVS / "train.yaml")
    assert "jax" in env_packages(ENVS / "train-jax.yaml")
    assert "tensorflow" not in env_packages(ENVS / "train-jax.yaml")


def test_a_backend_missing_from_this_environment_is_named_without_importing_it():
    looked_up = []

    def find_spec(module):
        looked_up.append(module)
        return None

    problem = backend_problem("torch", "train.backend", None, ENVS, find_spec=find_spec)
    assert looked_up == ["torch"]
    assert problem.startswith("train.backend: 'torch' needs PyTorch")
    assert "module 'torch' is not installed" in problem
    assert backend_problem("jax", "train.backend", None, ENVS, find_spec=lambda m: object()) is None
    assert "envs/train-jax.yaml" in backend_problem(
        "jax", "train.backend", None, ENVS, find_spec=lambda m: None
    )


def test_with_conda_the_environment_file_must_install_the_backend(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert backend_problem("auto", "train.backend", str(ENVS / "train.yaml"), ENVS) is None
    assert backend_problem("jax", "train.backend", str(ENVS / "train-jax.yaml"), ENVS) is None
    torch = backend_problem("torch", "train.backend", str(ENVS / "train.yaml"), ENVS)
    assert "envs/train.yaml does not install" in torch and "no environment in envs/ pins" in torch
    with pytest.raises(ConfigError) as err:
        check_backends(
            "tensorflow", {"j": "jax", "same": "tensorflow"}, str(ENVS / "train.yaml"), ENVS
        )
    assert str(err.value).startswith("experiments.variants.j: train.backend: 'jax' needs JAX")
    assert "JAX is pinned in envs/train-jax.yaml" in str(err.value)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert "'auto' (KERAS_BACKEND=torch)" in backend_problem(
        "auto", "train.backend", str(ENVS / "train.yaml"), ENVS
    )


def test_a_backend_that_is_not_installed_is_refused_at_start_up(five_a_genre, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed here: the conda case below still runs")
    base = {"audio_dir": "audio", "genres": GENRES}
    out = refused(five_a_genre, {**base, "train": {"recipe": "cnn", "backend": "torch"}})
    assert "train.backend: 'torch' needs PyTorch" in out
    with monkeypatch.context() as env:
        env.setenv("KERAS_BACKEND", "torch")  # run_snakemake passes the environment on
        out = refused(five_a_genre, base)
    assert "train.backend: 'auto' (KERAS_BACKEND=torch) needs PyTorch" in out
    out = refused(
        five_a_genre, {**base, "experiments": {"variants": {"t": {"train": {"backend": "torch"}}}}}
    )
    assert "experiments.variants.t: train.backend: 'torch' needs PyTorch" in out


def test_with_sdm_conda_start_up_names_the_environment_the_backend_needs(five_a_genre):
    base = {"audio_dir": "audio", "genres": GENRES}
    out = refused(
        five_a_genre, {**base, "train": {"recipe": "cnn", "backend": "torch"}}, "--sdm", "conda"
    )
    assert "needs PyTorch, which envs/train.yaml does not install" in out
    out = refused(
        five_a_genre,
        {**base, "experiments": {"variants": {"j": {"train": {"backend": "jax"}}}}},
        "--sdm",
        "conda",
    )
    assert "experiments.variants.j: train.backend: 'jax' needs JAX" in out
    assert "JAX is pinned in envs/train-jax.yaml" in out


# --- 3. sample sheets ------------------------------------------------------------------------


def sheet_at(root: Path, rows: list[dict]) -> Path:
    sheet = root / "lists" / "tracks.tsv"
    sheet.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(sheet, sep="\t", index=False)
    return sheet


def test_one_file_listed_twice_however_spelt_is_refused_listing_the_rows(tmp_path):
    write_audio(tmp_path / "music/a.wav", tone(0.5))
    rows = [
        {"path": "../music/a.wav", "genre": "rock"},
        {"path": "../music/b.wav", "genre": "rock"},
        {"path": "./../music/a.wav", "genre": "jazz"},
        {"path": str(tmp_path / "music/a.wav"), "genre": "rock"},
        {"path": "../music/c.wav", "genre": "rock"},
        {"path": "../music/c.wav", "genre": "rock"},
    ]
    sheet = sheet_at(tmp_path, rows)
    with pytest.raises(ConfigError) as err:
        check_sheet(pd.DataFrame(rows), str(sheet))
    message = str(err.value)
    assert message.startswith(f"tracks: the sample sheet '{sheet}' is ambiguous")
    assert (
        "one audio file under 2 genres ('jazz', 'rock'): row 2 '../music/a.wav' (rock), "
        "row 4 './../music/a.wav' (jazz), row 5 " in message
    )
    assert "one audio file listed more than once: row 6 '../music/c.wav' (rock), row 7" in message
    check_sheet(pd.DataFrame(rows[:2] + rows[4:5]), str(sheet))


def test_genres_that_differ_only_in_case_are_refused_listing_the_rows(tmp_path):
    rows = [
        {"path": "a.wav", "genre": "Rock"},
        {"path": "b.wav", "genre": "rock"},
        {"path": "c.wav", "genre": "Rock"},
        {"path": "d.wav", "genre": "Jazz"},
    ]
    with pytest.raises(ConfigError) as err:
        check_sheet(pd.DataFrame(rows), str(tmp_path / "t.tsv"))
    assert (
        "genres that differ only in case (one class or two?): 'Rock' in rows 2, 4; 'rock' in rows 3"
        in str(err.value)
    )


def test_ambiguous_sheets_stop_the_start_up(tmp_path):
    for i, name in enumerate(["a", "b", "c"]):
        write_audio(tmp_path / f"music/{name}.wav", tone(2.0, seed=i))
    twice = [
        {"path": "../music/a.wav", "genre": "rock"},
        {"path": "../music/b.wav", "genre": "jazz"},
        {"path": "../music/./a.wav", "genre": "jazz"},
    ]
    config = {"tracks": str(sheet_at(tmp_path, twice)), "genres": [], **SMALL}
    out = refused(tmp_path, config)
    assert "one audio file under 2 genres ('jazz', 'rock'): row 2 '../music/a.wav' (rock)" in out
    cased = [
        {"path": "../music/a.wav", "genre": "Rock"},
        {"path": "../music/b.wav", "genre": "rock"},
    ]
    config["tracks"] = str(sheet_at(tmp_path, cased))
    out = refused(tmp_path, config)
    assert "'Rock' in rows 2; 'rock' in rows 3" in out


def test_a_split_column_short_of_training_tracks_names_the_column_not_split_method(tmp_path):
    rows = []
    for gi, genre in enumerate(["jazz", "rock"]):
        for i, split in enumerate(
            ["train", "train", "val", "test"] if genre == "jazz" else ["val", "test", "test"]
        ):
            path = write_audio(
                tmp_path / f"music/{genre}{i}.wav", tone(2.0, freq=200 + 100 * gi, seed=i)
            )
            rows.append({"path": str(path), "genre": genre, "split": split})
    out = refused(tmp_path, {"tracks": str(sheet_at(tmp_path, rows)), "genres": [], **SMALL})
    assert "split: genre 'rock' has no training track" in out
    assert "in the sample sheet's split column" in out
    assert "split.method" not in out and "split.ratios" not in out


def test_the_sheet_split_message_drops_advice_on_ratios():
    message = sheet_split_message("the split has no validation track; raise split.ratios.val", 9)
    assert message.startswith("split: the split has no validation track in the sample sheet's")
    assert "split.ratios" not in message


# --- 4. variants: a missing preset, experiments of their own ---------------------------------


def test_a_variant_with_a_missing_preset_or_experiments_of_its_own_is_refused(five_a_genre):
    base = {"audio_dir": "audio", "genres": GENRES}
    out = refused(five_a_genre, {**base, "experiments": {"variants": {"mine": "no/such.yaml"}}})
    assert "experiments.variants.mine: preset file 'no/such.yaml' does not exist" in out
    assert "FileNotFoundError" not in out
    nested = {"variants": {"deep": {"experiments": {"cv": {"folds": 3}}}}}
    out = refused(five_a_genre, {**base, "experiments": nested})
    assert "experiments.variants.deep: overrides 'experiments' itself" in out
    out = refused(
        five_a_genre,
        {**base, "experiments": {"variants": {"cmp": "config/presets/compare.yaml"}}},
    )
    assert "experiments.variants.cmp: overrides 'experiments' itself" in out


# --- 6. spectrogram.offset_s beyond the clips ------------------------------------------------


def test_offset_warnings_name_the_key_the_value_and_the_clips(tmp_path):
    clips = [write_audio(tmp_path / f"c{i}.wav", tone(2.0)) for i in range(7)]
    config = {"spectrogram": {"offset_s": 2.5}}
    variants = {"late": {"spectrogram": {"offset_s": 1.0}}, "far": {"spectrogram": {"offset_s": 9}}}
    read = []

    def length_of(path):
        read.append(path)
        return 2.0

    missing = str(tmp_path / "not-there.wav")
    warnings = offset_warnings(config, variants, [missing, *map(str, clips)], length_of)
    assert len(read) == 5, "a header read of the first five clips that exist, no more"
    assert warnings[0].startswith("genreflow: spectrogram.offset_s is 2.5 s, beyond the end of 5")
    assert "c0.wav (2.00 s)" in warnings[0]
    assert warnings[1].startswith("genreflow: experiments.variants.far.spectrogram.offset_s is 9 s")
    assert len(warnings) == 2
    assert offset_warnings({"spectrogram": {"offset_s": 0.0}}, {}, [str(clips[0])]) == []
    assert offset_warnings({"spectrogram": {"offset_s": 1.5}}, {}, [str(clips[0])]) == []


def test_an_offset_beyond_the_clips_is_warned_about_at_start_up(five_a_genre):
    config = {
        "audio_dir": "audio",
        "genres": GENRES,
        "spectrogram": {"kind": "logmel", "offset_s": 5.0},
        "train": {"recipe": "cnn"},
    }
    code, out = start_up(five_a_genre, config)
    assert code == 0, out[-3000:]
    assert (
        "genreflow: spectrogram.offset_s is 5 s, beyond the end of 5 of the first 5 clips: "
        "blues.00000.wav (2.00 s)" in out
    )


# --- 5 and 2: a trained model, a short file to classify, then a training that fails ----------


def test_prediction_notes_say_what_was_adapted():
    short = {"duration_s": "0.070", "notes": "padded 43000 samples of silence at the end"}
    notes = prediction_notes(short, 3.0, 0.0)
    assert notes.startswith("only 0.07 s of audio, shorter than one 3-s analysis window")
    assert notes.endswith("; padded 43000 samples of silence at the end")
    assert prediction_notes({"duration_s": "30.0", "notes": ""}, 3.0, 0.0) == ""
    assert prediction_notes({"duration_s": "30.0", "notes": ""}, 3.0, 28.0).startswith(
        "only 2.00 s"
    )
    assert prediction_notes(short, None, 0.0) == short["notes"], "the blog's one picture a file"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("trained")
    make_dataset(root / "audio", GENRES, 6, seconds=2.0)
    cfg = root / "run.yaml"
    cfg.write_text(yaml.safe_dump({"audio_dir": "audio", "genres": GENRES, **SMALL}))
    run_snakemake(root, "--cores", "2", "--configfile", str(cfg), timeout=600)
    return root, cfg


def test_a_file_shorter_than_one_window_says_so_in_its_row(trained):
    root, cfg = trained
    folder = root / "to classify"
    write_audio(folder / "blip.wav", tone(0.07))
    shutil.copyfile(root / "audio/jazz/jazz.00000.wav", folder / "whole.wav")
    run_snakemake(
        root,
        "predict",
        "--cores",
        "2",
        "--configfile",
        str(cfg),
        "--config",
        f"predict={{audio_dir: '{folder}'}}",
        timeout=600,
    )
    rows = {r["file"]: r for r in read_predictions_csv(root / "results/predict/new_audio.csv")}
    assert list(rows["blip.wav"])[-1] == "notes"
    assert rows["blip.wav"]["notes"].startswith(
        "only 0.07 s of audio, shorter than one 1-s analysis window"
    )
    assert "padded" in rows["blip.wav"]["notes"]
    assert rows["whole.wav"]["notes"] == "", "a clip as long as the training clips needs nothing"


@pytest.mark.slow
def test_a_training_that_fails_leaves_the_previous_model_usable(trained):
    """A retraining that fails (here: a training spectrogram damaged without a change of size,
    found only when the train job reads it) keeps results/model/model.keras, which the README
    names as the usable model, loadable and predicting."""
    root, _ = trained
    model = root / "results/model/model.keras"
    before = model.read_bytes()
    manifest = pd.read_csv(root / "results/split/manifest.csv")
    png = root / manifest[manifest["split"] == "train"]["spectrogram"].iloc[0]
    original = png.read_bytes()
    png.write_bytes(bytes(b ^ 0xFF for b in original))  # same size, other bytes
    cfg = root / "retrain.yaml"
    retrain = {**SMALL["train"], "epochs": 2}  # a new setting: the model is trained again
    cfg.write_text(
        yaml.safe_dump({"audio_dir": "audio", "genres": GENRES, **SMALL, "train": retrain})
    )
    try:
        proc = run_snakemake(root, "--cores", "2", "--configfile", str(cfg), check=False)
    finally:
        png.write_bytes(original)  # the train job removed it; as it was, for other tests
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Error in rule train" in out, out[-3000:]
    damage = "not what their featurisation job wrote"  # genreflow.pngio.check_pngs
    assert damage in out and png.name in out, "it failed for the damage, not for another reason"
    assert not (root / "results/model/seed_42/model.keras").exists(), "the failed job's output"
    assert model.read_bytes() == before

    import keras

    from genreflow.inputs import track_windows
    from genreflow.params import SpectrogramParams
    from genreflow.recipe import TrainSettings

    classifier = keras.models.load_model(model)
    good = root / manifest[manifest["split"] == "test"]["spectrogram"].iloc[0]
    windows = track_windows(
        str(good),
        TrainSettings.from_config(SMALL["train"]),
        SpectrogramParams.from_config(SMALL["spectrogram"]),
    )
    probabilities = classifier.predict(windows, verbose=0)
    assert probabilities.shape == (len(windows), len(GENRES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert "results/model/model.keras" in (REPO / "README.md").read_text()
