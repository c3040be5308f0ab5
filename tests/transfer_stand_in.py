"""A stand-in for the pretrained network in the transfer tests, shared with their per-backend
subprocesses (``transfer_driver.py``): a tiny Keras model with musicnn's input (a patch of 187
frames x 96 mel bands) and its output names, a separable synthetic data set of spectrogram PNGs,
and small settings. No Keras import at module level, so a subprocess can choose its backend.

Until ``genreflow.musicnn`` (the port, issue 17 part 2) is in this tree, :func:`use_patches`
registers this module's ``patches`` under that name; where the real module exists, its own
``patches`` is used.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np

from genreflow.pngio import write_png_atomic
from genreflow.recipe import TrainSettings, TransferSettings

PATCH_FRAMES, N_MELS = 187, 96
GENRES = ["low", "mid", "high"]
SPLITS = ("train", "train", "train", "train", "val", "test")
SETTINGS = TrainSettings(
    recipe="musicnn",
    batch_size=16,
    min_steps_per_epoch=1,
    patience=20,
    mixed_precision="off",
    xla="off",
    transfer=TransferSettings(
        layer="pooled",
        head="linear",
        head_dropout=0.1,
        head_batch_size=16,
        head_epochs=15,
        head_learning_rate=1e-2,
        fine_tune_epochs=0,
        fine_tune_learning_rate=1e-3,
    ),
)


def settings(**transfer) -> TrainSettings:
    return replace(SETTINGS, transfer=replace(SETTINGS.transfer, **transfer))


def patches(representation: np.ndarray, frames: int = PATCH_FRAMES, hop: int = PATCH_FRAMES):
    """musicnn's patching as its extractor does it: non-overlapping, the incomplete tail left
    out, a clip shorter than one patch padded with zeros."""
    if len(representation) < frames:
        representation = np.pad(representation, ((0, frames - len(representation)), (0, 0)))
    starts = range(0, len(representation) - frames + 1, hop)
    return np.stack([representation[s : s + frames] for s in starts])


def use_patches() -> None:
    if importlib.util.find_spec("genreflow.musicnn") is None:
        module = types.ModuleType("genreflow.musicnn")
        module.PATCH_FRAMES, module.N_MELS, module.patches = PATCH_FRAMES, N_MELS, patches
        sys.modules["genreflow.musicnn"] = module


def stand_in_backbone():
    """Conv1D over time (the mel bands as channels), BatchNormalization with 'pretrained'
    statistics, pooled and penultimate features, a taggram behind dropout."""
    import keras
    from keras import layers

    inputs = keras.Input((PATCH_FRAMES, N_MELS))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv1D(8, 7, strides=4, name="conv")(x)
    bn = layers.BatchNormalization(name="bn")
    x = layers.ReLU()(bn(x))
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(x)
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(x)
    pooled = layers.Concatenate()([mean_pool, max_pool])
    penultimate = layers.Dense(6, activation="relu", name="penultimate")(pooled)
    taggram = layers.Dense(5, activation="sigmoid", name="taggram")(
        layers.Dropout(0.5)(penultimate)
    )
    model = keras.Model(
        inputs,
        {
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "taggram": taggram,
        },
        name="stand_in_musicnn",
    )
    bn.moving_mean.assign(np.full(8, 0.1, np.float32))
    bn.moving_variance.assign(np.full(8, 0.5, np.float32))
    return model


def write_dataset(
    root: Path, per_genre: int = 6, frames: int = 3 * PATCH_FRAMES + 20
) -> list[dict[str, str]]:
    """Manifest rows of noise spectrograms (96 mel bands x frames, 8-bit) with a brighter band
    whose mel rows depend on the genre: 3 patches a clip."""
    from genreflow.atomic import sha256_of

    rng = np.random.default_rng(0)
    rows = []
    for gi, genre in enumerate(GENRES):
        for i in range(per_genre):
            image = rng.integers(0, 80, (N_MELS, frames)).astype(np.uint8)
            band = 10 + 30 * gi
            image[band : band + 12] += 120
            path = root / genre / f"{genre}.{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_png_atomic(path, image)
            rows.append(
                {
                    "track": f"{genre}.{i:05d}",
                    "genre": genre,
                    "split": SPLITS[i % len(SPLITS)],
                    "spectrogram": str(path),
                    "sha256": sha256_of(path),
                }
            )
    return rows


def index_records(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The block index records (genreflow.blocks.INDEX_FIELDS) of the rows' spectrograms."""
    return [
        {
            "key": r["track"],
            "label": r["genre"],
            "name": r["track"],
            "png": r["spectrogram"],
            "status": "ok",
            "png_sha256": r["sha256"],
        }
        for r in rows
    ]
