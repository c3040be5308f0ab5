"""tf.data input pipelines: random windows with SpecAugment for training, sliding windows for
evaluation. Every random draw is stateless and seeded, so a CPU run is repeatable."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .pngio import read_png


def load_images(paths: list[str]) -> np.ndarray:
    """Stack PNGs of identical shape into (N, H, W) uint8 (or (N, H, W, 3) for RGB)."""
    images = [read_png(p) for p in paths]
    shapes = {img.shape for img in images}
    if len(shapes) > 1:
        raise ValueError(f"spectrograms differ in shape {sorted(shapes)}; rebuild them with one config")
    return np.stack(images)


def frames_for(seconds: float, sample_rate: int, hop_length: int) -> int:
    return max(1, int(round(seconds * sample_rate / hop_length)))


def random_window(image: tf.Tensor, width: int, seed: tf.Tensor) -> tf.Tensor:
    """A random time crop (all frequency rows kept); short images are zero-padded first."""
    image = pad_to_width(image, width)
    start = tf.random.stateless_uniform([], seed, minval=0, maxval=tf.shape(image)[1] - width + 1, dtype=tf.int32)
    return image[:, start : start + width]


def pad_to_width(image: tf.Tensor, width: int) -> tf.Tensor:
    missing = tf.maximum(0, width - tf.shape(image)[1])
    return tf.pad(image, [[0, 0], [0, missing]])


def mask_band(image: tf.Tensor, axis: int, max_width: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero a random band of at most ``max_width`` rows (axis 0) or columns (axis 1)."""
    size = tf.shape(image)[axis]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    width = tf.random.stateless_uniform([], seeds[0], 0, max_width + 1, dtype=tf.int32)
    start = tf.random.stateless_uniform([], seeds[1], 0, tf.maximum(1, size - width + 1), dtype=tf.int32)
    positions = tf.range(size)
    keep = tf.logical_or(positions < start, positions >= start + width)
    shape = [-1, 1] if axis == 0 else [1, -1]
    return image * tf.cast(tf.reshape(keep, shape), image.dtype)


def spec_augment(image: tf.Tensor, seed: tf.Tensor, freq_masks: int, freq_max: int, time_masks: int, time_max: int) -> tf.Tensor:
    """SpecAugment's frequency and time masking (no time warping)."""
    seeds = tf.random.experimental.stateless_split(seed, freq_masks + time_masks + 1)
    for i in range(freq_masks):
        image = mask_band(image, 0, freq_max, seeds[i])
    for i in range(time_masks):
        image = mask_band(image, 1, time_max, seeds[freq_masks + i])
    return image


def mixup(images: tf.Tensor, labels: tf.Tensor, alpha: float, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Blend each example with another of the same batch; lambda ~ Beta(alpha, alpha)."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    n = tf.shape(images)[0]
    gamma_a = tf.random.stateless_gamma([n], seeds[0], alpha)
    gamma_b = tf.random.stateless_gamma([n], seeds[1], alpha)
    lam = gamma_a / (gamma_a + gamma_b)
    order = tf.argsort(tf.random.stateless_uniform([n], seeds[2]))
    lam_x = tf.reshape(lam, [-1, 1, 1, 1])
    mixed = lam_x * images + (1 - lam_x) * tf.gather(images, order)
    lam_y = tf.reshape(lam, [-1, 1])
    return mixed, lam_y * labels + (1 - lam_y) * tf.gather(labels, order)


def training_windows(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    width: int,
    batch_size: int,
    seed: int,
    windows_per_track: int = 1,
    augment: dict | None = None,
    mixup_alpha: float = 0.0,
) -> tf.data.Dataset:
    """Endless-per-epoch stream of (window, one-hot) batches, ``windows_per_track`` draws per track."""
    augment = augment or {}
    stack = tf.constant(images[..., None] if images.ndim == 3 else images)
    onehot = tf.one_hot(labels, n_classes)
    count = len(labels)
    indices = tf.data.Dataset.range(count).repeat(windows_per_track)
    indices = indices.shuffle(count * windows_per_track, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def draw(index, element_seed):
        crop_seed, mask_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
        window = random_window(stack[index][..., 0], width, crop_seed)
        window = tf.cast(window, tf.float32)
        if augment:
            window = spec_augment(window, mask_seed, **augment)
        return window[..., None], onehot[index]

    ds = tf.data.Dataset.zip(indices, seeds).map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    if mixup_alpha > 0:
        batch_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, batch_seeds).map(
            lambda xy, s: mixup(xy[0], xy[1], mixup_alpha, s), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    return ds.prefetch(tf.data.AUTOTUNE)


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
