"""The pretrained recipe (train.recipe: musicnn) on a stand-in network (tests/transfer_stand_in.py):
stored features, the head, fine-tuning, resuming, seeds, backends, the saved model, the table."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from tiny_training import backend_param
from transfer_stand_in import (
    GENRES,
    N_MELS,
    PATCH_FRAMES,
    index_records,
    settings,
    stand_in_backbone,
    use_patches,
    write_dataset,
)

from genreflow.config import ConfigError, check_settings
from genreflow.embeddings import (
    LAYERS,
    embeddings_input,
    embeddings_root,
    read_block,
    read_embeddings,
    select,
    tracks_table,
    weights_input,
    write_tracks_table,
)
from genreflow.recipe import TrainSettings

keras = pytest.importorskip("keras")

from genreflow import inputs, transfer  # noqa: E402
from genreflow.evaluation import evaluate_split  # noqa: E402
from genreflow.params import SpectrogramParams  # noqa: E402
from genreflow.pngio import write_png_atomic  # noqa: E402
from genreflow.runtime import configure  # noqa: E402

use_patches()
DRIVER = Path(__file__).with_name("transfer_driver.py")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> SimpleNamespace:
    """Spectrograms, the stand-in's weights, its stored features (one block file)."""
    root = tmp_path_factory.mktemp("transfer")
    configure(3, 2, "off", "off", True)
    rows = write_dataset(root / "pngs")
    backbone = stand_in_backbone()
    backbone.save_weights(str(root / "backbone.weights.h5"))
    transfer.update_block(index_records(rows), root / "embeddings.npz", backbone, "w1", "stand_in")
    (root / "rows.json").write_text(json.dumps(rows))
    return SimpleNamespace(
        root=root, rows=rows, embeddings=read_embeddings([root / "embeddings.npz"])
    )


def pretrained(data) -> keras.Model:
    backbone = stand_in_backbone()
    backbone.load_weights(str(data.root / "backbone.weights.h5"))
    return backbone


def fit(data, root: Path, seed: int = 3, train_settings: TrainSettings | None = None, **kw):
    configure(seed, 2, "off", "off", True)
    keras.backend.clear_session()
    backbone = kw.pop("backbone", None) or pretrained(data)
    return transfer.fit(
        data.rows,
        GENRES,
        train_settings or settings(),
        SpectrogramParams(),
        seed,
        backbone,
        data.embeddings,
        root / "backup",
        root / "model.keras",
        root / "history.csv",
        verbose=0,
        **kw,
    )


def rows_of(data, split: str) -> list[dict[str, str]]:
    return [r for r in data.rows if r["split"] == split]


def representations(rows) -> list[np.ndarray]:
    return [inputs.read_representation(r["spectrogram"]) for r in rows]


# --- settings --------------------------------------------------------------------------------


def test_the_musicnn_recipe_needs_the_musicnn_spectrograms():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    check_settings(config)  # the default: musicnn on its own spectrograms
    config["spectrogram"]["kind"] = "logmel"
    with pytest.raises(ConfigError) as err:
        check_settings(config)
    assert "train.recipe: musicnn" in str(err.value)
    assert "spectrogram.kind: logmel" in str(err.value)


def test_the_head_batch_shrinks_to_give_small_sets_enough_steps():
    assert transfer.head_batch_size(8000, TrainSettings()) == 256
    assert transfer.head_batch_size(400, TrainSettings()) == 25  # 16 steps (min_steps_per_epoch)
    assert transfer.head_batch_size(5, TrainSettings()) == 1


def test_transfer_settings_come_from_the_train_section():
    s = TrainSettings.from_config(
        {"recipe": "musicnn", "transfer": {"head": "linear", "fine_tune_epochs": 3}}
    )
    assert (s.transfer.head, s.transfer.fine_tune_epochs, s.transfer.layer) == (
        "linear",
        3,
        "all",  # not given: the default
    )
    assert not s.transfer.frozen and TrainSettings().transfer.frozen
    assert TrainSettings(**asdict(s)) == s


def test_each_network_and_spectrogram_set_has_its_own_embeddings():
    musicnn = {"train": {"recipe": "musicnn"}}
    msd = musicnn | {"pretrained": {"architecture": "MSD_musicnn", "weights": ""}}
    mtt = musicnn | {"pretrained": {"architecture": "MTT_musicnn", "weights": ""}}
    mine = musicnn | {"pretrained": {"architecture": "MSD_musicnn", "weights": "my.weights.h5"}}
    assert embeddings_root(msd) == "results/embeddings/MSD_musicnn"
    assert embeddings_root(msd, "41af6c8d") == "results/embeddings/41af6c8d-MSD_musicnn"
    roots = {embeddings_root(c) for c in (msd, mtt, mine)}
    assert len(roots) == 3, "a weights file of the user's is a set of its own"
    assert weights_input(msd) == ["results/pretrained/MSD_musicnn.weights.h5"]
    assert weights_input(mine) == ["my.weights.h5"]
    assert embeddings_input(mtt, ["00000", "00050"]) == [
        "results/embeddings/MTT_musicnn/00000.npz",
        "results/embeddings/MTT_musicnn/00050.npz",
    ]
    other = {"train": {"recipe": "cnn"}}
    assert weights_input(other) == [] and embeddings_input(other, ["00000"]) == []


# --- features of the frozen network ------------------------------------------------------------


def test_every_layer_is_a_stored_layer_or_several_side_by_side(data):
    features = transfer.patch_features(pretrained(data), representations(data.rows[:2]))
    widths = {name: features[0][name].shape[1] for name in ("penultimate", "mean_pool", "max_pool")}
    assert widths == {"penultimate": 6, "mean_pool": 8, "max_pool": 8}
    expected = {"penultimate": 6, "mean_pool": 8, "max_pool": 8, "pooled": 16, "all": 22}
    assert {layer: select(features[0], layer).shape[1] for layer in LAYERS} == expected
    np.testing.assert_array_equal(select(features[0], "pooled")[:, 8:], features[0]["max_pool"])


def test_clips_embedded_together_equal_clips_embedded_one_by_one(data):
    backbone = pretrained(data)
    clips = representations(data.rows[:4])
    together = transfer.embed(backbone, clips, "all")
    small_chunks = transfer.patch_features(backbone, clips, chunk=4)
    for clip, features, chunked in zip(clips, together, small_chunks):
        patches = inputs.clip_patches(clip)
        assert patches.shape[1:] == (PATCH_FRAMES, N_MELS) and len(features) == len(patches) == 3
        alone = backbone.predict(patches, verbose=0)
        np.testing.assert_allclose(
            features,
            np.concatenate([alone[n] for n in LAYERS["all"]], axis=1),
            rtol=1e-5,
            atol=1e-6,
        )
        np.testing.assert_allclose(select(chunked, "all"), features, rtol=1e-5, atol=1e-6)
        assert features.dtype == np.float32


def test_a_block_file_is_brought_up_to_date_clip_by_clip(data, tmp_path):
    backbone = pretrained(data)
    rows = [dict(r) for r in data.rows[:4]]
    out = tmp_path / "block.npz"

    def update(weights="w1", rebuild=lambda png: False) -> int:
        records = index_records(rows) + [{"key": "bad", "png": "", "status": "rejected"}]
        return transfer.update_block(records, out, backbone, weights, "stand_in", rebuild)

    assert update() == 4
    block = read_block(out)
    assert (block.weights_sha256, block.architecture) == ("w1", "stand_in")
    assert list(block.clips) == [r["track"] for r in rows]
    for row, computed in zip(rows, transfer.patch_features(backbone, representations(rows))):
        assert block.clips[row["track"]].png_sha256 == row["sha256"]
        for name, values in computed.items():
            np.testing.assert_array_equal(block.clips[row["track"]].features[name], values)
    assert update() == 0, "nothing changed: nothing computed"
    # a spectrogram made again with other pixels: its clip alone is computed again
    changed = Path(rows[1]["spectrogram"]).with_name("changed.png")
    write_png_atomic(changed, np.full((N_MELS, 2 * PATCH_FRAMES), 200, np.uint8))
    from genreflow.atomic import sha256_of

    rows[1] |= {"spectrogram": str(changed), "sha256": sha256_of(changed)}
    assert update() == 1
    assert len(read_block(out).clips[rows[1]["track"]].features["penultimate"]) == 2
    assert update(rebuild=lambda png: png == rows[2]["spectrogram"]) == 1
    assert update(weights="w2") == 4, "other weights: every clip"
    out.write_bytes(b"not an npz")
    assert update(weights="w2") == 4, "a damaged file is made again"
    del rows[2:]
    assert update(weights="w2") == 0
    assert list(read_block(out).clips) == [r["track"] for r in rows[:2]], "removed clips go"


def test_the_tracks_table_loads_with_pandas_in_one_line(data, tmp_path):
    path = tmp_path / "tracks.tsv"
    splits = {r["track"]: r["split"] for r in data.rows}
    write_tracks_table(
        path, tracks_table(data.embeddings, index_records(data.rows), "pooled", splits)
    )
    table = pd.read_csv(path, sep="\t")
    assert list(table.columns[:4]) == ["track", "genre", "split", "patches"]
    assert list(table.columns[4:]) == [f"mean_pool_{i:03d}" for i in range(8)] + [
        f"max_pool_{i:03d}" for i in range(8)
    ]
    assert list(table["track"]) == [r["track"] for r in data.rows]
    assert list(table["split"]) == [r["split"] for r in data.rows]
    assert (table["patches"] == 3).all()
    expected = np.stack(
        [select(data.embeddings[r["track"]].features, "pooled").mean(axis=0) for r in data.rows]
    )
    np.testing.assert_allclose(table.iloc[:, 4:].to_numpy(), expected, rtol=1e-6, atol=1e-7)


# --- the head and the saved model --------------------------------------------------------------


def test_the_head_learns_and_the_saved_model_is_one_bare_classifier(data, tmp_path):
    model = fit(data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == list(range(len(history))) and set(history["phase"]) == {"head"}
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    test = rows_of(data, "test")
    scores, _ = evaluate_split(model, test, GENRES, settings(), None, data.embeddings)
    assert scores["track_accuracy"] > 2 / 3, scores  # 3 genres: chance is 1/3
    assert not (tmp_path / "backup").exists()

    saved = transfer.load_classifier(tmp_path / "model.keras")
    assert saved.input_shape == (None, PATCH_FRAMES, N_MELS)
    assert saved.output_shape == (None, len(GENRES))
    patches = np.concatenate([inputs.track_patches(r["spectrogram"]) for r in test])
    np.testing.assert_allclose(
        saved.predict(patches, verbose=0), model.predict(patches, verbose=0), atol=1e-6
    )
    assert saved.get_layer("head").input_shape == (None, 16)
    assert not saved.get_layer("stand_in_musicnn").trainable_weights, "saved frozen"


def test_evaluation_on_the_stored_features_equals_the_whole_model(data, tmp_path):
    model = fit(data, tmp_path)
    rows = rows_of(data, "test") + rows_of(data, "val")
    stored = transfer.patch_probabilities(model, rows, settings(), data.embeddings)
    full = transfer.patch_probabilities(model, rows, settings(), None)
    predicted = inputs.predict_tracks(model, [r["spectrogram"] for r in rows], settings(), None)
    assert [len(p) for p in stored] == [3] * len(rows)
    for a, b, c in zip(stored, full, predicted):
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_array_equal(b, c)
    other = settings(layer="mean_pool")
    with pytest.raises(ValueError, match="train.transfer.layer mean_pool"):
        transfer.patch_probabilities(model, rows, other, data.embeddings)


def test_stale_or_missing_embeddings_are_named(data):
    row = dict(data.rows[0])
    with pytest.raises(ValueError, match=f"embeddings of track {row['track']}"):
        transfer.patch_samples([row | {"sha256": "0" * 64}], GENRES, data.embeddings, "pooled")
    with pytest.raises(KeyError, match="no embeddings for track nowhere"):
        transfer.patch_samples([row | {"track": "nowhere"}], GENRES, data.embeddings, "pooled")


def test_the_mlp_head_keeps_its_softmax_in_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        head = transfer.build_head(
            16, 3, settings(head="mlp", head_units=32).transfer, np.zeros(16), np.ones(16)
        )
        assert head.name == "head"
        assert head.get_layer("hidden").units == 32
        assert head.get_layer("hidden").compute_dtype == "float16"
        assert head.output.dtype == "float32"
        assert any(isinstance(layer, keras.layers.Dropout) for layer in head.layers)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_features_constant_on_the_training_patches_are_only_centred():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        head = transfer.build_head(
            3, 2, settings().transfer, np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.0, 1e-14])
        )
        standardise = head.get_layer("standardise")
        assert standardise.compute_dtype == "float32"
        values = standardise(np.array([[3.0, 7.0, 5.0]], np.float32))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(values), [[1.0, 5.0, 2.0]])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_trains_both_phases_and_saves_a_plain_model(data, tmp_path):
    import warnings

    keras.backend.clear_session()  # before: it resets the precision policy
    configure(3, 2, "on", "off", True)
    try:
        model = transfer.fit(
            data.rows,
            GENRES,
            settings(head_epochs=3, fine_tune_epochs=1),
            SpectrogramParams(),
            3,
            pretrained(data),
            data.embeddings,
            tmp_path / "backup",
            tmp_path / "model.keras",
            tmp_path / "history.csv",
            verbose=0,
        )
        assert model.get_layer("stand_in_musicnn").get_layer("conv").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(pd.read_csv(tmp_path / "history.csv")["loss"]).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transfer.load_classifier(tmp_path / "model.keras")
    assert not [w for w in caught if "optimizer" in str(w.message)], "saved without optimizer"


def test_the_same_seed_gives_the_same_model(data, tmp_path):
    first, second, other = (
        fit(data, tmp_path / name, seed=seed) for name, seed in (("a", 3), ("b", 3), ("c", 4))
    )
    assert (tmp_path / "a/history.csv").read_text() == (tmp_path / "b/history.csv").read_text()
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first.get_weights(), other.get_weights()))


# --- fine-tuning -------------------------------------------------------------------------------


def test_fine_tuning_moves_the_backbone_but_not_its_batch_statistics(data, tmp_path):
    backbone = pretrained(data)

    def values(layer: str) -> list[np.ndarray]:
        return [keras.ops.convert_to_numpy(v).copy() for v in backbone.get_layer(layer).weights]

    conv, batch_norm = values("conv"), values("bn")
    model = fit(data, tmp_path, backbone=backbone, train_settings=settings(fine_tune_epochs=3))
    assert not np.array_equal(conv[0], values("conv")[0]), "the backbone learned"
    assert len(batch_norm) == 4  # gamma, beta, moving mean and variance: all as pretrained
    for before, after in zip(batch_norm, values("bn")):
        np.testing.assert_array_equal(before, after)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == list(range(len(history)))
    assert list(dict.fromkeys(history["phase"])) == ["head", "fine_tune"]
    assert (history["phase"] == "fine_tune").sum() == 3

    # the stored features no longer stand for the network: evaluation runs the whole model
    rows = rows_of(data, "test")
    tuned = settings(fine_tune_epochs=3)
    patches = np.concatenate([inputs.track_patches(r["spectrogram"]) for r in rows])
    scored = transfer.patch_probabilities(model, rows, tuned, data.embeddings)
    np.testing.assert_array_equal(np.concatenate(scored), model.predict(patches, verbose=0))
    saved = transfer.load_classifier(tmp_path / "model.keras")
    np.testing.assert_allclose(
        saved.predict(patches, verbose=0), model.predict(patches, verbose=0), atol=1e-6
    )


# --- other backends, resuming (each in a process of its own) ------------------------------------


def run_driver(task: str, backend: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DRIVER), task, backend, str(out), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OPENBLAS_NUM_THREADS": "1"},
        timeout=600,
    )


def driver_folder(data, root: Path, train_settings: TrainSettings) -> Path:
    for name in ("rows.json", "backbone.weights.h5", "embeddings.npz"):
        (root / name).symlink_to(data.root / name)
    (root / "settings.json").write_text(json.dumps(asdict(train_settings)))
    return root


@pytest.mark.parametrize("backend", [backend_param("jax")])
def test_same_seed_same_metrics_and_the_saved_model_on_jax(data, tmp_path, backend):
    out = driver_folder(data, tmp_path, settings())
    model = fit(data, tmp_path / "tensorflow")
    proc = run_driver("fit", backend, out, "--seeds", "5", "5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads((out / f"result-fit-{backend}.json").read_text())["runs"]
    assert runs[0]["scores"] == runs[1]["scores"] and runs[0]["history"] == runs[1]["history"]
    assert runs[0]["probabilities"] == runs[1]["probabilities"]

    proc = run_driver("predict", backend, out, "--model", str(tmp_path / "tensorflow/model.keras"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / f"result-predict-{backend}.json").read_text())
    assert result["backend"] == backend
    patches = np.concatenate([inputs.track_patches(r["spectrogram"]) for r in data.rows])
    np.testing.assert_allclose(
        result["probabilities"], model.predict(patches, verbose=0), atol=1e-5
    )


def test_an_interrupted_training_resumes_in_the_phase_it_was_in(data, tmp_path):
    tuned = settings(head_epochs=4, fine_tune_epochs=3)
    out = driver_folder(data, tmp_path, tuned)

    def run(*crash: str) -> subprocess.CompletedProcess:
        return run_driver("fit", "tensorflow", out, *(["--crash", *crash] if crash else []))

    def begun() -> list[tuple[str, int, int]]:
        lines = (out / "epochs_begun.txt").read_text().split("\n")
        return [(m, int(e), int(s)) for m, e, s in (line.split() for line in lines if line)]

    first = run("head", "2")
    assert first.returncode == 3, first.stderr[-3000:]
    assert (out / "run0/backup/head/checkpoint").is_dir()
    assert not (out / "run0/backup/head.weights.h5").exists()
    second = run("fine_tune", "2")
    assert second.returncode == 3, second.stderr[-3000:]
    steps = begun()[1][2]
    assert steps > 0
    assert [(m, e) for m, e, _ in begun()] == [
        *[("head", 0), ("head", 1)],
        *[("head", 2), ("head", 3)],  # resumed at the head's third epoch
        *[("musicnn_transfer", 0), ("musicnn_transfer", 1)],
    ]
    assert begun()[2][2] == 2 * steps, "the head's weights and optimizer state are restored"
    third = run()
    assert third.returncode == 0, third.stderr[-3000:]
    assert [(m, e) for m, e, _ in begun()[6:]] == [("musicnn_transfer", 2)], (
        "the head is not trained again; fine-tuning resumes at its third epoch"
    )
    with open(out / "run0/history.csv", newline="") as fh:
        history = [(r["phase"], int(r["epoch"])) for r in csv.DictReader(fh)]
    assert history == [("head", e) for e in range(4)] + [("fine_tune", e) for e in range(4, 7)]
    assert transfer.load_classifier(out / "run0/model.keras").output_shape == (None, len(GENRES))
    assert not (out / "run0/backup").exists()
