"""Input pipelines: random training windows, sliding evaluation windows, SpecAugment, mixup."""

from __future__ import annotations

import numpy as np
import pytest

from genreflow import data

tf = pytest.importorskip("tensorflow")


def column_coded(n_tracks: int, height: int = 16, width: int = 200) -> np.ndarray:
    """(tracks, H, W) uint16 images whose pixel value says which track and column it is."""
    cols = np.arange(width)[None, None, :]
    tracks = np.arange(n_tracks)[:, None, None]
    return np.broadcast_to(1000 * (tracks + 1) + cols, (n_tracks, height, width)).astype(np.uint16)


def seed(*values: int) -> tf.Tensor:
    return tf.constant(list(values), dtype=tf.int64)


# --- random windows ---------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 43, 200])
def test_random_window_is_a_contiguous_crop_of_the_image(width):
    image = column_coded(1)[0]
    for i in range(20):
        window = data.random_window(tf.constant(image), width, seed(i, 7)).numpy()
        assert window.shape == (16, width)
        start = int(window[0, 0]) - 1000
        np.testing.assert_array_equal(window, image[:, start : start + width])


def test_random_window_pads_a_short_image_with_silence():
    image = np.full((16, 30), 9, dtype=np.uint8)
    window = data.random_window(tf.constant(image), 43, seed(1, 2)).numpy()
    assert window.shape == (16, 43)
    np.testing.assert_array_equal(window[:, :30], 9)
    np.testing.assert_array_equal(window[:, 30:], 0)


def test_training_windows_never_mix_tracks_and_carry_their_own_label():
    images = column_coded(6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    ds = data.training_windows(images, labels, 3, width=43, batch_size=4, seed=5, windows_per_track=3)
    seen = []
    for windows, onehot in ds:
        for window, y in zip(windows.numpy()[..., 0], onehot.numpy()):
            track = int(window[0, 0]) // 1000 - 1
            # every pixel of the window belongs to the same track, and columns are contiguous
            assert np.all(window // 1000 - 1 == track)
            assert np.all(np.diff(window[0] % 1000) == 1)
            assert y.argmax() == labels[track] and y.sum() == 1
            seen.append(track)
    # one epoch = windows_per_track draws of every track
    assert sorted(seen) == sorted(list(range(6)) * 3)


def test_training_windows_are_seeded_and_differ_between_epochs():
    images = column_coded(4)

    def epochs(seed_value):
        ds = data.training_windows(images, np.arange(4), 4, 43, 4, seed_value, augment=dict(freq_masks=1, freq_max=4, time_masks=1, time_max=8))
        return [np.concatenate([w.numpy() for w, _ in ds]) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1]), "each epoch draws new windows"
    assert not np.array_equal(first[0], other[0])


# --- sliding windows ---------------------------------------------------------------------


@pytest.mark.parametrize("n_frames,width,hop", [(200, 43, 21), (1292, 129, 64), (129, 129, 64), (130, 129, 64), (50, 43, 43)])
def test_sliding_windows_cover_every_frame(n_frames, width, hop):
    starts = data.window_starts(n_frames, width, hop)
    covered = np.zeros(n_frames, dtype=bool)
    for s in starts:
        assert 0 <= s and s + width <= n_frames
        covered[s : s + width] = True
    assert covered.all()
    assert starts[0] == 0 and starts[-1] == n_frames - width
    assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))


def test_sliding_windows_are_the_image_columns_in_order():
    image = column_coded(1)[0].astype(np.float32)
    windows = data.sliding_windows(image, 43, 20)
    assert windows.shape == (len(data.window_starts(200, 43, 20)), 16, 43, 1) and windows.dtype == np.float32
    for window, start in zip(windows[..., 0], data.window_starts(200, 43, 20)):
        np.testing.assert_array_equal(window, image[:, start : start + 43])


def test_sliding_windows_pad_a_track_shorter_than_one_window():
    windows = data.sliding_windows(np.ones((16, 10), dtype=np.uint8), 43, 20)
    assert windows.shape == (1, 16, 43, 1)
    assert windows[0, :, :10].min() == 1 and windows[0, :, 10:].max() == 0


def test_frames_for_matches_the_spectrogram_hop():
    assert data.frames_for(3.0, 22050, 512) == 129
    assert data.frames_for(0.001, 22050, 512) == 1


# --- SpecAugment ---------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1])
def test_mask_band_zeroes_one_bounded_band_and_nothing_else(axis):
    image = np.random.default_rng(0).uniform(1, 255, (32, 60)).astype(np.float32)
    widths = set()
    for i in range(50):
        masked = data.mask_band(tf.constant(image), axis, 10, seed(i, 1)).numpy()
        zero = np.all(masked == 0, axis=1 - axis)  # rows (axis 0) or columns (axis 1) zeroed
        kept = ~zero
        np.testing.assert_array_equal(np.compress(kept, masked, axis=axis), np.compress(kept, image, axis=axis))
        where = np.flatnonzero(zero)
        width = len(where)
        assert width <= 10
        if width:
            assert np.array_equal(where, np.arange(where[0], where[0] + width)), "one contiguous band"
        widths.add(width)
    assert len(widths) > 3, "the width is random"


def test_mask_band_is_repeatable_for_a_seed():
    image = tf.constant(np.arange(32 * 60, dtype=np.float32).reshape(32, 60) + 1)
    a = data.mask_band(image, 1, 20, seed(3, 4)).numpy()
    b = data.mask_band(image, 1, 20, seed(3, 4)).numpy()
    np.testing.assert_array_equal(a, b)
    others = [data.mask_band(image, 1, 20, seed(3, i)).numpy() for i in range(5, 10)]
    assert any(not np.array_equal(a, o) for o in others)


def test_spec_augment_bounds_the_masked_rows_and_columns():
    image = np.random.default_rng(1).uniform(1, 255, (64, 129)).astype(np.float32)
    for i in range(20):
        out = data.spec_augment(tf.constant(image), seed(i, 0), freq_masks=2, freq_max=8, time_masks=2, time_max=12).numpy()
        zero_rows = np.all(out == 0, axis=1).sum()
        zero_cols = np.all(out == 0, axis=0).sum()
        assert zero_rows <= 16 and zero_cols <= 24
        untouched = out != 0
        np.testing.assert_array_equal(out[untouched], image[untouched])


def test_no_masks_means_no_change():
    image = np.random.default_rng(2).uniform(1, 255, (16, 43)).astype(np.float32)
    out = data.spec_augment(tf.constant(image), seed(0, 0), 0, 8, 0, 8).numpy()
    np.testing.assert_array_equal(out, image)


# --- mixup ---------------------------------------------------------------------------------


def test_mixup_blends_images_and_labels_with_the_same_weight():
    rng = np.random.default_rng(3)
    labels = tf.one_hot(rng.integers(0, 5, 16), 5)
    # image i is constant i + 1, so a mixed image is constant lam * (i + 1) + (1 - lam) * (j + 1)
    images = tf.constant(np.arange(1, 17, dtype=np.float32)[:, None, None, None] * np.ones((16, 4, 6, 1), np.float32))
    mixed, mixed_labels = data.mixup(images, labels, 0.4, seed(9, 9))
    mixed, mixed_labels = mixed.numpy(), mixed_labels.numpy()
    np.testing.assert_allclose(mixed_labels.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(mixed_labels >= 0) and np.all((mixed_labels > 0).sum(axis=1) <= 2)
    assert np.allclose(mixed, mixed[:, :1, :1], atol=1e-4), "each mixed image is still constant"
    assert mixed.min() >= 1 - 1e-4 and mixed.max() <= 16 + 1e-4
    assert not np.allclose(mixed[:, 0, 0, 0], np.arange(1, 17)), "images were actually mixed"


def test_training_windows_with_mixup_have_soft_labels_summing_to_one():
    ds = data.training_windows(column_coded(8), np.arange(8) % 4, 4, 43, 8, seed=1, mixup_alpha=0.3)
    for _, y in ds:
        np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)
