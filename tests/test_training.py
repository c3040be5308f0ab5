"""Training: per-split window datasets, learning, resuming an interrupted fit, settings."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO
from tiny_training import CI_BACKENDS, GENRES, SPEC, TINY, tiny_dataset

from genreflow.pngio import write_png_atomic
from genreflow.recipe import TrainSettings

keras = pytest.importorskip("keras")

from genreflow import fitting, models, training  # noqa: E402
from genreflow.evaluation import evaluate_split  # noqa: E402
from genreflow.runtime import configure  # noqa: E402


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict[str, str]]:
    return tiny_dataset(tmp_path_factory.mktemp("pngs"))


# --- windows are built per split from the manifest ----------------------------------------


def test_each_split_draws_windows_only_from_its_own_tracks(tmp_path):
    # every track is one constant grey level, so a window names the track it came from
    rows = []
    for k in range(12):
        path = tmp_path / f"t{k}.png"
        write_png_atomic(path, np.full((16, 120), 10 + 5 * k, dtype=np.uint8))
        rows.append(
            {
                "track": f"t{k}",
                "genre": GENRES[k % 3],
                "split": ("train", "train", "val", "test")[k % 4],
                "spectrogram": str(path),
            }
        )
    assert len({r["track"] for r in rows}) == len(rows), "a track is in exactly one split"
    level = {r["track"]: 10 + 5 * k for k, r in enumerate(rows)}
    settings = TrainSettings(
        recipe="cnn",
        window_s=1.0,
        batch_size=4,
        windows_per_track=3,
        min_steps_per_epoch=1,
        freq_masks=0,
        time_masks=0,
        mixup_alpha=0,
    )
    train, val, steps, input_shape = training.default_datasets(rows, GENRES, settings, SPEC, seed=1)
    assert input_shape == (16, 43, 1)
    train_batches = [train[i] for i in range(len(train))]
    for batches, split in ((train_batches, "train"), ([val], "val")):
        allowed = {level[r["track"]]: GENRES.index(r["genre"]) for r in rows if r["split"] == split}
        n = 0
        for windows, labels in batches:
            assert windows.shape[1:] == input_shape and windows.dtype == np.float32
            for window, label in zip(windows, labels):
                values = np.unique(window)
                assert len(values) == 1 and int(values[0]) in allowed, (
                    f"{split} window from another split"
                )
                assert label.argmax() == allowed[int(values[0])]
                n += 1
        n_tracks = len(allowed)
        assert n == (
            3 * n_tracks
            if split == "train"
            else n_tracks * len(training.data.window_starts(120, 43, 43))
        )
    assert steps == len(train) == -(-6 * 3 // 4)


def test_small_training_sets_draw_more_windows_per_track():
    settings = TrainSettings(
        recipe="cnn", batch_size=32, windows_per_track=4, min_steps_per_epoch=16
    )
    assert training.draws_per_track(30, settings) == 18  # 30 * 18 / 32 -> 17 steps
    assert training.draws_per_track(700, settings) == 4  # already 88 steps
    assert training.draws_per_track(30, TrainSettings(min_steps_per_epoch=1)) == 4


# --- training (same seed, same model: tests/test_backends.py, per backend) -------------------


def fit_once(rows, root: Path, seed: int, settings: TrainSettings = TINY):
    configure(seed, 2, "off", "off", True)
    keras.backend.clear_session()
    model = training.fit(
        rows,
        GENRES,
        settings,
        SPEC,
        seed,
        {},
        root / "backup",
        root / "model.keras",
        root / "history.csv",
        verbose=0,
    )
    scores, probs = evaluate_split(
        model, [r for r in rows if r["split"] == "test"], GENRES, settings, SPEC
    )
    return model.get_weights(), scores, (root / "history.csv").read_text()


def test_default_model_trains_and_beats_chance(rows, tmp_path):
    settings = TrainSettings(
        **{**{f.name: getattr(TINY, f.name) for f in fields(TINY)}, "epochs": 12}
    )
    _, scores, history = fit_once(rows, tmp_path, seed=3, settings=settings)
    losses = [float(r["loss"]) for r in csv.DictReader(history.splitlines())]
    assert losses[-1] < losses[0]
    assert scores["track_accuracy"] > 0.5, scores  # 3 classes: chance is 1/3


def test_weight_averaging_gives_the_saved_model_the_averaged_weights(rows, tmp_path):
    # ema_momentum this close to 1 keeps the average at the first step's weights: the saved
    # model (restored from the best epoch's file) must hardly move from where training began,
    # while the same training without averaging moves on
    class Start(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [keras.ops.convert_to_numpy(v) for v in self.model.trainable_variables]

    moved = {}
    for ema in (0.0, 0.999999):
        settings = TrainSettings(
            **{
                **{f.name: getattr(TINY, f.name) for f in fields(TINY)},
                "epochs": 5,
                "ema_momentum": ema,
            }
        )
        configure(3, 2, "off", "off", True)
        keras.backend.clear_session()
        start, root = Start(), tmp_path / str(ema)
        model = training.fit(
            rows,
            GENRES,
            settings,
            SPEC,
            3,
            {},
            root / "backup",
            root / "model.keras",
            root / "history.csv",
            verbose=0,
            extra_callbacks=[start],
        )
        saved = keras.models.load_model(root / "model.keras")
        assert all(
            np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
            for a, b in zip(saved.trainable_variables, model.trainable_variables)
        )
        moved[ema] = max(
            float(np.abs(keras.ops.convert_to_numpy(v) - w).max())
            for v, w in zip(saved.trainable_variables, start.weights)
        )
    assert moved[0.999999] < 0.1 * moved[0.0], moved


# --- resuming after an interruption ----------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    sys.path.insert(0, {workflow!r})
    from genreflow.runtime import configure
    configure(5, 2, "off", "off", True, {backend!r})
    import keras
    from genreflow.params import SpectrogramParams
    from genreflow.recipe import TrainSettings
    from genreflow.training import fit

    crash_after, out = int(sys.argv[1]), Path(sys.argv[2])
    rows = json.loads((out / "rows.json").read_text())
    settings = TrainSettings(**json.loads((out / "settings.json").read_text()))

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with open(out / "epochs_begun.txt", "a") as fh:
                fh.write(f"{{epoch}} {{int(self.model.optimizer.iterations.numpy())}}\\n")

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == crash_after:
                os._exit(3)  # like a killed job: no clean-up, no exception handling

    fit(rows, {genres!r}, settings, SpectrogramParams(), 5, {{}}, out / "backup", out / "model.keras", out / "history.csv",
        verbose=0, extra_callbacks=[Record(), Crash()])
    """
)


@pytest.mark.parametrize("backend", CI_BACKENDS)
def test_interrupted_training_resumes_at_the_next_epoch(rows, tmp_path, backend):
    settings = asdict(TINY) | {"epochs": 5}
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    driver = tmp_path / "driver.py"
    driver.write_text(
        DRIVER.format(workflow=str(REPO / "workflow"), genres=GENRES, backend=backend)
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OPENBLAS_NUM_THREADS": "1"}

    def run(crash_after: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(driver), str(crash_after), str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    first = run(crash_after=2)
    assert first.returncode == 3, first.stderr[-3000:]
    assert not (tmp_path / "model.keras").exists()
    assert (tmp_path / "backup/checkpoint").is_dir()
    with open(tmp_path / "backup/history.csv", newline="") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1]

    second = run(crash_after=0)
    assert second.returncode == 0, second.stderr[-3000:]
    begun = [
        tuple(map(int, line.split()))
        for line in (tmp_path / "epochs_begun.txt").read_text().splitlines()
    ]
    steps = begun[1][1]  # optimizer steps per epoch, from the first run
    assert steps > 0
    assert [e for e, _ in begun] == [0, 1, 2, 3, 4], "the second run starts at epoch 3 (index 2)"
    assert begun[2] == (2, 2 * steps), (
        "weights and optimizer state (hence the learning-rate schedule) are restored"
    )
    with open(tmp_path / "history.csv", newline="") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1, 2, 3, 4]
    assert keras.models.load_model(tmp_path / "model.keras").output_shape == (None, len(GENRES))
    assert not (tmp_path / "backup").exists()


def test_a_backup_of_other_settings_is_discarded(tmp_path):
    backup = tmp_path / "backup"
    fitting.prepare_backup(backup, "run-a")
    (backup / "history.csv").write_text("epoch,loss\n0,1.0\n")
    fitting.prepare_backup(backup, "run-a")
    assert (backup / "history.csv").exists(), "same run: kept for resuming"
    fitting.prepare_backup(backup, "run-b")
    assert not (backup / "history.csv").exists()
    rows = [{"track": "t1", "split": "train"}, {"track": "t2", "split": "val"}]
    fp = fitting.run_fingerprint(rows, TINY, SPEC, 1)
    assert fp == fitting.run_fingerprint(list(reversed(rows)), TINY, SPEC, 1)
    assert fp != fitting.run_fingerprint(rows, TINY, SPEC, 2)
    assert fp != fitting.run_fingerprint([rows[0], {**rows[1], "split": "train"}], TINY, SPEC, 1)


# --- best weights and early stopping -------------------------------------------------------


def test_best_weights_are_kept_only_from_the_selection_start_on(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "best.weights.h5"
    callback = fitting.BestWeights(path, start_epoch=2)
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 0.1})
    callback.on_epoch_end(1, {"val_loss": 0.2})
    assert not path.exists(), "lucky early epochs are not restored"
    callback.on_epoch_end(2, {"val_loss": 0.9})
    kept = path.stat().st_mtime_ns
    model.layers[0].kernel.assign(np.ones((2, 1)))
    callback.on_epoch_end(3, {"val_loss": 1.2})
    assert path.stat().st_mtime_ns == kept
    callback.on_epoch_end(4, {"val_loss": 0.5})
    assert callback.best == 0.5
    fresh = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    fresh.load_weights(str(path))
    np.testing.assert_array_equal(fresh.layers[0].kernel.numpy(), np.ones((2, 1)))
    assert training.selection_start(TrainSettings(epochs=30, warmup_epochs=2)) == 10
    assert training.selection_start(TrainSettings(epochs=3, warmup_epochs=5)) == 2


def test_best_so_far_reads_the_history_from_the_selection_start(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,val_loss\n0,2,0.1\n1,2,0.8\n2,2,0.6\n")
    assert fitting.best_so_far(history, "val_loss") == 0.1
    assert fitting.best_so_far(history, "val_loss", start_epoch=1) == 0.6
    assert fitting.best_so_far(tmp_path / "missing.csv", "val_loss") is None


def test_the_cnn_fit_refuses_the_musicnn_recipe(tmp_path):
    """The entry points send the musicnn recipe to transfer.fit; given it, training.fit would
    otherwise train a default CNN under the musicnn recipe's name."""
    with pytest.raises(ValueError, match="transfer.fit"):
        training.fit(
            [],
            GENRES,
            TrainSettings(recipe="musicnn"),
            SPEC,
            1,
            {},
            tmp_path / "backup",
            tmp_path / "model.keras",
            tmp_path / "history.csv",
        )
    assert not (tmp_path / "backup").exists(), "refused before any work"


# --- settings and model ----------------------------------------------------------------------


def test_config_schema_and_code_defaults_agree():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())["train"]
    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())["properties"]["train"][
        "properties"
    ]
    transfer = schema.pop("transfer")["properties"]  # a section: its keys have the defaults
    schema |= {f"transfer.{k}": v for k, v in transfer.items()}
    config |= {f"transfer.{k}": v for k, v in config["transfer"].items()}
    code = asdict(TrainSettings())
    code |= {f"transfer.{k}": v for k, v in code.pop("transfer").items()}
    for name, spec in schema.items():
        default = spec.get("default")
        assert config[name] == default, (
            f"train.{name}: config.yaml {config[name]!r} != schema {default!r}"
        )
    for name, value in code.items():
        assert name in schema, f"TrainSettings.{name} is not in the schema"
        assert (list(value) if isinstance(value, tuple) else value) == schema[name]["default"], name
    assert (
        TrainSettings.from_config(
            {k: v for k, v in config.items() if not k.startswith("transfer.")}
        )
        == TrainSettings()
    )


def test_softmax_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = models.default_cnn((128, 129, 1), 10)
        assert model.layers[-1].compute_dtype == "float32"
        assert model.layers[1].compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_default_model_head_keeps_frequency_and_accepts_any_pool():
    model = models.default_cnn((128, 129, 1), 10, filters=(8, 16, 32, 64), input_pool=(2, 2))
    assert model.output_shape == (None, 10)
    # 128 mels / 2 / 2**4 = 4 bands of 64 channels reach the classifier
    assert model.layers[-1].kernel.shape == (4 * 64, 10)
    assert models.default_cnn((16, 43, 1), 3, filters=(4,), input_pool=(1, 1)).output_shape == (
        None,
        3,
    )
