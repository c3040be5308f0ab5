"""A tiny training problem and the Keras backends to run it on, shared by the training tests
and their per-backend subprocesses (``backend_driver.py``): no Keras import here, so a
subprocess can choose its backend first."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from genreflow.params import SpectrogramParams
from genreflow.pngio import write_png_atomic
from genreflow.recipe import TrainSettings

GENRES = ["low", "mid", "high"]
SPEC = SpectrogramParams()  # 22050 Hz, hop 512: a 1-s window is 43 frames
TINY = TrainSettings(
    recipe="cnn",
    epochs=3,
    batch_size=8,
    learning_rate=3e-3,
    warmup_epochs=1,
    window_s=1.0,
    eval_hop_s=0.5,
    windows_per_track=2,
    min_steps_per_epoch=1,
    patience=10,
    filters=(4, 8),
    input_pool=(2, 2),
    dropout=0.1,
    freq_masks=1,
    freq_mask_max=3,
    time_masks=1,
    time_mask_max=6,
    mixup_alpha=0.2,
    mixed_precision="off",
    xla="off",
    # a tiny run has ~3 steps an epoch: the default 0.99 would average over ~100 steps and keep
    # the weights near their start; 0.8 averages over ~5, so the weight averaging is still exercised
    ema_momentum=0.8,
)


def tiny_dataset(
    root: Path,
    per_genre: int = 6,
    height: int = 16,
    width: int = 200,
    splits=("train", "train", "train", "train", "val", "test"),
) -> list[dict[str, str]]:
    """Noise images with a brighter band whose height depends on the genre, and a manifest."""
    rng = np.random.default_rng(0)
    rows = []
    for gi, genre in enumerate(GENRES):
        for i in range(per_genre):
            image = rng.integers(0, 90, (height, width)).astype(np.uint8)
            band = 2 + gi * 5
            image[band : band + 3] += 120
            path = root / genre / f"{genre}.{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_png_atomic(path, image)
            rows.append(
                {
                    "track": f"{genre}.{i:05d}",
                    "genre": genre,
                    "split": splits[i % len(splits)],
                    "spectrogram": str(path),
                }
            )
    return rows


MISSING = {
    "jax": "jax is not installed (pip install -r requirements-dev.txt)",
    "torch": "torch is not installed: optional, its CPU wheels are too large for CI (bench/gpu_check.py runs it on a GPU)",
}


def missing(backend: str) -> str | None:
    """Why ``backend`` cannot run here, or None (TensorFlow is always there)."""
    return (
        MISSING[backend]
        if backend in MISSING and importlib.util.find_spec(backend) is None
        else None
    )


def backend_param(name: str):
    """A test parameter that skips, with the reason, where the backend is not installed."""
    return pytest.param(
        name,
        marks=pytest.mark.skipif(missing(name) is not None, reason=missing(name) or ""),
        id=name,
    )


CI_BACKENDS = [backend_param("tensorflow"), backend_param("jax")]
ALL_BACKENDS = CI_BACKENDS + [backend_param("torch")]
