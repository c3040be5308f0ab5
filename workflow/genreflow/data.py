"""Model inputs in plain numpy, the same on every Keras backend: which random window of which
track each training example is, mixup, the sliding windows that cover a track for evaluation,
and the blog recipe's resized picture. Every random draw comes from a numpy generator seeded
with (seed, epoch[, batch]). The SpecAugment masks are a Keras layer that runs inside the
training step (see :mod:`genreflow.augment`)."""

from __future__ import annotations

import numpy as np

from . import pngio
from .spectrogram import dequantise16


def read_png(path, sha256: str | None = None) -> np.ndarray:
    """A spectrogram's pixels; a 16-bit one (musicnn's input) as its float32 values, (96,
    frames) with row 0 the lowest band, as musicnn_representation made them."""
    image = pngio.read_png(path, sha256)
    return dequantise16(image) if image.dtype == np.uint16 else image


def load_images(paths: list[str], sha256s: list[str | None] | None = None) -> np.ndarray:
    """Stack PNGs of identical shape into (N, H, W) uint8 (float32 for 16-bit ones, or
    (N, H, W, 3) for RGB); with the manifest's sha256s, a damaged file stops the job naming it
    (see pngio.read_png)."""
    images = [read_png(p, sha) for p, sha in zip(paths, sha256s or [None] * len(paths))]
    shapes = {img.shape for img in images}
    if len(shapes) > 1:
        raise ValueError(
            f"spectrograms differ in shape {sorted(shapes)}; rebuild them with one config"
        )
    return np.stack(images)


def frames_for(seconds: float, sample_rate: int, hop_length: int) -> int:
    return max(1, int(round(seconds * sample_rate / hop_length)))


def pad_to_width(images: np.ndarray, width: int) -> np.ndarray:
    """(N, H, W) images padded with silence (0) at the end to at least ``width`` frames."""
    missing = width - images.shape[2]
    return np.pad(images, ((0, 0), (0, 0), (0, missing))) if missing > 0 else images


def epoch_draws(
    n_tracks: int, draws_per_track: int, n_frames: int, width: int, seed: int, epoch: int
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of training examples: (track index, window start) pairs in a random order, every
    track ``draws_per_track`` times. They depend on (seed, epoch) alone, so a batch is the same
    whichever order, thread or process asks for it."""
    rng = np.random.default_rng([seed, epoch])
    tracks = rng.permutation(np.repeat(np.arange(n_tracks), draws_per_track))
    starts = rng.integers(0, max(1, n_frames - width + 1), size=len(tracks))
    return tracks, starts


def crop_windows(
    images: np.ndarray, tracks: np.ndarray, starts: np.ndarray, width: int
) -> np.ndarray:
    """(B, H, width, 1) float32 time crops (all frequency rows kept) of ``images`` (N, H, W).

    A crop is a slice of the track held in memory: cropping here sends the device one 3-s
    window per example instead of the whole 30-s track (10x fewer bytes per step), and
    ``keras.layers.RandomCrop`` draws one offset per batch, not one per example."""
    return np.stack([images[t, :, s : s + width] for t, s in zip(tracks, starts)]).astype(
        np.float32
    )[..., None]


def mixup(
    images: np.ndarray, labels: np.ndarray, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Blend each example with another of the same batch, images and labels with the same weight
    lambda ~ Beta(alpha, alpha).

    Not ``keras.layers.MixUp`` in the training step: it draws lambda through a gamma op that
    TensorFlow's XLA cannot compile (no StatelessRandomGammaV3 kernel; the forced-XLA test
    fails with it). A batch of 32 windows blends in 0.2 ms on one core, in place as
    x_i + (1 - lambda) (x_j - x_i): the textbook two products take 2 ms (measured)."""
    lam = rng.beta(alpha, alpha, size=len(images)).astype(np.float32)
    order = rng.permutation(len(images))
    mixed = images[order]
    mixed -= images
    mixed *= (1 - lam).reshape(-1, *([1] * (images.ndim - 1)))
    mixed += images
    return mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[order]


def window_starts(n_frames: int, width: int, hop: int) -> list[int]:
    """Starts of windows that cover every frame: regular hops plus one flush with the end."""
    if n_frames <= width:
        return [0]
    starts = list(range(0, n_frames - width + 1, max(1, hop)))
    if starts[-1] != n_frames - width:
        starts.append(n_frames - width)
    return starts


def sliding_windows(image: np.ndarray, width: int, hop: int) -> np.ndarray:
    """(n_windows, H, width, 1) float32 windows covering the whole track."""
    if image.shape[1] < width:
        image = np.pad(image, ((0, 0), (0, width - image.shape[1])))
    starts = window_starts(image.shape[1], width, hop)
    return np.stack([image[:, s : s + width] for s in starts]).astype(np.float32)[..., None]


def blog_picture(image: np.ndarray, size: int) -> np.ndarray:
    """The blog recipe's input: the RGB picture resized to (size, size, 3) float32, bilinear
    without antialiasing (what ``image_dataset_from_directory`` did), for training and scoring alike."""
    import keras

    resized = keras.ops.image.resize(
        image.astype(np.float32), (size, size), interpolation="bilinear", antialias=False
    )
    return keras.ops.convert_to_numpy(resized)
