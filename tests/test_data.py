"""Input pipelines: random training windows, sliding evaluation windows, SpecAugment, mixup."""

from __future__ import annotations

import numpy as np
import pytest

from genreflow import data

keras = pytest.importorskip("keras")

from genreflow.augment import SpecAugment, with_masks  # noqa: E402
from genreflow.training import TrainingBatches  # noqa: E402


def column_coded(n_tracks: int, height: int = 16, width: int = 200) -> np.ndarray:
    """(tracks, H, W) uint16 images whose pixel value says which track and column it is."""
    cols = np.arange(width)[None, None, :]
    tracks = np.arange(n_tracks)[:, None, None]
    return np.broadcast_to(1000 * (tracks + 1) + cols, (n_tracks, height, width)).astype(np.uint16)


def one_epoch(batches: TrainingBatches) -> list[tuple[np.ndarray, np.ndarray]]:
    epoch = [batches[i] for i in range(len(batches))]
    batches.on_epoch_end()
    return epoch


# --- random windows ---------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 43, 200])
def test_random_windows_are_contiguous_crops_of_their_track(width):
    images = column_coded(3)
    tracks, starts = data.epoch_draws(3, 10, 200, width, seed=7, epoch=0)
    windows = data.crop_windows(images, tracks, starts, width)
    assert windows.shape == (30, 16, width, 1) and windows.dtype == np.float32
    for window, track, start in zip(windows[..., 0], tracks, starts):
        np.testing.assert_array_equal(window, images[track, :, start : start + width])
    assert width == 200 or len(set(starts)) > 1, "the start is random"


def test_a_short_image_is_padded_with_silence():
    padded = data.pad_to_width(np.full((1, 16, 30), 9, dtype=np.uint8), 43)
    assert padded.shape == (1, 16, 43)
    np.testing.assert_array_equal(padded[..., :30], 9)
    np.testing.assert_array_equal(padded[..., 30:], 0)
    tracks, starts = data.epoch_draws(1, 3, 43, 43, seed=1, epoch=0)
    assert set(starts) == {0}
    assert data.pad_to_width(np.zeros((2, 16, 50), np.uint8), 43).shape == (2, 16, 50), (
        "long enough: unchanged"
    )


def test_epoch_draws_take_every_track_equally_often_and_depend_on_seed_and_epoch():
    tracks, starts = data.epoch_draws(5, 3, 200, 43, seed=3, epoch=0)
    assert sorted(tracks) == sorted(list(range(5)) * 3)
    again = data.epoch_draws(5, 3, 200, 43, seed=3, epoch=0)
    np.testing.assert_array_equal(tracks, again[0])
    np.testing.assert_array_equal(starts, again[1])
    for other in (
        data.epoch_draws(5, 3, 200, 43, seed=3, epoch=1),
        data.epoch_draws(5, 3, 200, 43, seed=4, epoch=0),
    ):
        assert not (np.array_equal(tracks, other[0]) and np.array_equal(starts, other[1]))


def test_training_batches_never_mix_tracks_and_carry_their_own_label():
    images = column_coded(6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    batches = TrainingBatches(
        images,
        np.eye(3, dtype=np.float32)[labels],
        batch_size=4,
        seed=5,
        draws_per_track=3,
        width=43,
    )
    seen = []
    for windows, onehot in one_epoch(batches):
        for window, y in zip(windows[..., 0], onehot):
            track = int(window[0, 0]) // 1000 - 1
            # every pixel of the window belongs to the same track, and columns are contiguous
            assert np.all(window // 1000 - 1 == track)
            assert np.all(np.diff(window[0] % 1000) == 1)
            assert y.argmax() == labels[track] and y.sum() == 1
            seen.append(track)
    # one epoch = windows_per_track draws of every track
    assert sorted(seen) == sorted(list(range(6)) * 3)
    assert len(batches) == 5


def test_training_batches_are_seeded_and_differ_between_epochs():
    def epochs(seed_value):
        batches = TrainingBatches(
            column_coded(4), np.eye(4, dtype=np.float32), 4, seed_value, width=43, mixup_alpha=0.3
        )
        return [np.concatenate([w for w, _ in one_epoch(batches)]) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1]), "each epoch draws new windows"
    assert not np.array_equal(first[0], other[0])


def test_a_batch_is_the_same_whatever_order_it_is_asked_for_in():
    batches = TrainingBatches(
        column_coded(8), np.eye(8, dtype=np.float32), 4, seed=2, width=43, mixup_alpha=0.3
    )
    backwards = [batches[i] for i in reversed(range(len(batches)))][::-1]
    for (w1, y1), (w2, y2) in zip(backwards, [batches[i] for i in range(len(batches))]):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(y1, y2)


# --- sliding windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_frames,width,hop",
    [(200, 43, 21), (1292, 129, 64), (129, 129, 64), (130, 129, 64), (50, 43, 43)],
)
def test_sliding_windows_cover_every_frame(n_frames, width, hop):
    starts = data.window_starts(n_frames, width, hop)
    covered = np.zeros(n_frames, dtype=bool)
    for s in starts:
        assert s >= 0 and s + width <= n_frames
        covered[s : s + width] = True
    assert covered.all()
    assert starts[0] == 0 and starts[-1] == n_frames - width
    assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))


def test_sliding_windows_are_the_image_columns_in_order():
    image = column_coded(1)[0].astype(np.float32)
    windows = data.sliding_windows(image, 43, 20)
    assert (
        windows.shape == (len(data.window_starts(200, 43, 20)), 16, 43, 1)
        and windows.dtype == np.float32
    )
    for window, start in zip(windows[..., 0], data.window_starts(200, 43, 20)):
        np.testing.assert_array_equal(window, image[:, start : start + 43])


def test_sliding_windows_pad_a_track_shorter_than_one_window():
    windows = data.sliding_windows(np.ones((16, 10), dtype=np.uint8), 43, 20)
    assert windows.shape == (1, 16, 43, 1)
    assert windows[0, :, :10].min() == 1 and windows[0, :, 10:].max() == 0


def test_frames_for_matches_the_spectrogram_hop():
    assert data.frames_for(3.0, 22050, 512) == 129
    assert data.frames_for(0.001, 22050, 512) == 1


# --- SpecAugment (a Keras layer in the training step) --------------------------------------


def masked(image: np.ndarray, layer: SpecAugment, copies: int = 1) -> np.ndarray:
    batch = np.repeat(image[None, ..., None], copies, axis=0)
    return keras.ops.convert_to_numpy(layer(batch, training=True))[..., 0]


@pytest.mark.parametrize("axis", [0, 1])
def test_a_mask_zeroes_one_bounded_band_per_example_and_nothing_else(axis):
    image = np.random.default_rng(0).uniform(1, 255, (32, 60)).astype(np.float32)
    layer = SpecAugment(freq_masks=1 - axis, freq_max=10, time_masks=axis, time_max=10, seed=1)
    widths, places = set(), set()
    for out in masked(image, layer, copies=50):
        zero = np.all(out == 0, axis=1 - axis)  # rows (axis 0) or columns (axis 1) zeroed
        kept = ~zero
        np.testing.assert_array_equal(
            np.compress(kept, out, axis=axis), np.compress(kept, image, axis=axis)
        )
        where = np.flatnonzero(zero)
        assert len(where) <= 10
        if len(where):
            assert np.array_equal(where, np.arange(where[0], where[0] + len(where))), (
                "one contiguous band"
            )
            places.add(where[0])
        widths.add(len(where))
    assert len(widths) > 3 and len(places) > 3, "width and place are random, per example"


def test_masks_are_repeatable_for_a_seed_and_new_at_every_step():
    image = np.arange(32 * 60, dtype=np.float32).reshape(32, 60) + 1

    def two_steps(seed):
        layer = SpecAugment(2, 8, 2, 12, seed=seed)
        return masked(image, layer, 8), masked(image, layer, 8)

    first, again = two_steps(3), two_steps(3)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], two_steps(4)[0])


def test_spec_augment_bounds_the_masked_rows_and_columns():
    image = np.random.default_rng(1).uniform(1, 255, (64, 129)).astype(np.float32)
    for out in masked(
        image, SpecAugment(freq_masks=2, freq_max=8, time_masks=2, time_max=12, seed=0), copies=20
    ):
        zero_rows = np.all(out == 0, axis=1).sum()
        zero_cols = np.all(out == 0, axis=0).sum()
        assert zero_rows <= 16 and zero_cols <= 24
        untouched = out != 0
        np.testing.assert_array_equal(out[untouched], image[untouched])


def test_no_masks_and_inference_mean_no_change():
    image = np.random.default_rng(2).uniform(1, 255, (16, 43)).astype(np.float32)
    np.testing.assert_array_equal(masked(image, SpecAugment(0, 8, 0, 8, seed=0)), image[None])
    layer = SpecAugment(2, 8, 2, 8, seed=0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(image[None, ..., None], training=False))[0, ..., 0], image
    )


def test_the_masks_run_only_in_training_and_stay_out_of_the_classifier():
    classifier = keras.Sequential(
        [keras.Input((16, 43, 1)), keras.layers.Flatten(), keras.layers.Dense(2)], name="tiny"
    )
    trained = with_masks(classifier, SpecAugment(1, 16, 1, 43, seed=0))
    batch = np.ones((4, 16, 43, 1), np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(trained(batch, training=False)),
        keras.ops.convert_to_numpy(classifier(batch)),
    )
    assert not any(isinstance(layer, SpecAugment) for layer in classifier.layers)
    assert trained.count_params() == classifier.count_params()


# --- mixup ---------------------------------------------------------------------------------


def test_mixup_blends_images_and_labels_with_the_same_weight():
    # image i is constant i + 1 and has class i, so a mixed label names both partners and the
    # weight, and the mixed image must be lam * (i + 1) + (1 - lam) * (j + 1)
    labels = np.eye(16, dtype=np.float32)
    images = np.arange(1, 17, dtype=np.float32)[:, None, None, None] * np.ones(
        (16, 4, 6, 1), np.float32
    )
    mixed, mixed_labels = data.mixup(images, labels, 0.4, np.random.default_rng(9))
    assert mixed.dtype == np.float32 and mixed_labels.dtype == np.float32
    np.testing.assert_allclose(mixed_labels.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(mixed_labels >= 0) and np.all((mixed_labels > 0).sum(axis=1) <= 2)
    expected = mixed_labels @ np.arange(1, 17, dtype=np.float32)
    np.testing.assert_allclose(mixed[:, 0, 0, 0], expected, rtol=1e-5)
    assert np.allclose(mixed, mixed[:, :1, :1], atol=1e-4), "each mixed image is still constant"
    assert not np.allclose(mixed[:, 0, 0, 0], np.arange(1, 17)), "images were actually mixed"


def test_training_batches_with_mixup_have_soft_labels_summing_to_one():
    batches = TrainingBatches(
        column_coded(8),
        np.eye(4, dtype=np.float32)[np.arange(8) % 4],
        8,
        seed=1,
        width=43,
        mixup_alpha=0.3,
    )
    for _, y in one_epoch(batches):
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
        assert (y.max(axis=1) < 1).any(), "labels were mixed"
