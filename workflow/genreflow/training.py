"""Fitting a model from the split manifest, with resumable checkpoints."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import keras
import numpy as np

from . import data, models
from .atomic import atomic_path
from .augment import SpecAugment, blog_augmentation, with_masks
from .fitting import (
    BestWeights,
    EpochLog,
    best_so_far,
    labels_of,
    log_finished_epochs,
    one_hot,
    prepare_backup,
    rows_of,
    run_fingerprint,
    save_atomic,
)
from .inputs import window_frames
from .params import SpectrogramParams
from .recipe import TrainSettings

log = logging.getLogger(__name__)


class TrainingBatches(keras.utils.PyDataset):
    """One epoch of (images, one-hot labels) batches: every track ``draws_per_track`` times in a
    random order, each draw a random time crop of ``width`` frames (or the whole image when
    ``width`` is None), then mixup when ``mixup_alpha`` > 0. Every draw depends on (seed, epoch,
    batch) alone, so a fixed seed gives the same batches on every backend, in any order. One
    worker: a batch is a few numpy slices (bench/input_pipeline.py measures it).

    ``augment`` (Keras layers, drawing from their own seeded generator in call order) is applied
    to each batch here, on the backend's device, for layers that cannot be compiled into the
    training step: one such layer (Keras marks RandomZoom ``supports_jit=False``) would make
    Keras run the whole step uncompiled."""

    def __init__(
        self,
        images,
        onehot,
        batch_size: int,
        seed: int,
        draws_per_track: int = 1,
        width: int | None = None,
        mixup_alpha: float = 0.0,
        augment=None,
    ):
        super().__init__()
        self.images = data.pad_to_width(images, width) if width else images
        self.onehot, self.batch_size, self.seed, self.draws_per_track = (
            onehot,
            batch_size,
            seed,
            draws_per_track,
        )
        self.width, self.mixup_alpha, self.augment = width, mixup_alpha, augment
        self.epoch = 0
        self.draw()

    def draw(self) -> None:
        n_frames = self.images.shape[2]
        self.tracks, self.starts = data.epoch_draws(
            len(self.images),
            self.draws_per_track,
            n_frames,
            self.width or n_frames,
            self.seed,
            self.epoch,
        )

    def __len__(self) -> int:
        return math.ceil(len(self.tracks) / self.batch_size)

    def __getitem__(self, index: int):
        batch = slice(index * self.batch_size, (index + 1) * self.batch_size)
        tracks = self.tracks[batch]
        if self.width:
            images = data.crop_windows(self.images, tracks, self.starts[batch], self.width)
        else:
            images = self.images[tracks]
        labels = self.onehot[tracks]
        if self.mixup_alpha > 0:
            images, labels = data.mixup(
                images,
                labels,
                self.mixup_alpha,
                np.random.default_rng([self.seed, self.epoch, index]),
            )
        if self.augment is not None:
            images = keras.ops.convert_to_numpy(self.augment(images, training=True))
        return images, labels

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.draw()


def validation_windows(
    rows, genres, settings: TrainSettings, spec: SpectrogramParams
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows covering each validation track, and their one-hot labels: enough
    to early-stop on, and half the cost of the overlapping windows the final evaluation uses,
    every epoch."""
    width = window_frames(settings, spec)
    windows, labels = [], []
    for image, label in zip(
        data.load_images([r["spectrogram"] for r in rows], [r.get("sha256") for r in rows]),
        labels_of(rows, genres),
    ):
        w = data.sliding_windows(image, width, width)
        windows.append(w)
        labels.extend([label] * len(w))
    return np.concatenate(windows), one_hot(np.array(labels, dtype=np.int32), len(genres))


def draws_per_track(n_tracks: int, settings: TrainSettings) -> int:
    """Random windows per track and epoch: ``windows_per_track``, raised on small training sets
    so that an epoch has at least ``min_steps_per_epoch`` batches (a 40-track fold would
    otherwise get 5 updates an epoch and stop learning long before its schedule ends)."""
    needed = math.ceil(settings.min_steps_per_epoch * settings.batch_size / max(1, n_tracks))
    return max(settings.windows_per_track, needed)


def default_datasets(rows, genres, settings: TrainSettings, spec: SpectrogramParams, seed: int):
    """(training batches, (validation windows, labels), steps per epoch, input shape)."""
    train_rows = rows_of(rows, "train")
    images = data.load_images(
        [r["spectrogram"] for r in train_rows], [r.get("sha256") for r in train_rows]
    )
    width = window_frames(settings, spec)
    train = TrainingBatches(
        images,
        one_hot(labels_of(train_rows, genres), len(genres)),
        settings.batch_size,
        seed,
        draws_per_track=draws_per_track(len(train_rows), settings),
        width=width,
        mixup_alpha=settings.mixup_alpha,
    )
    return (
        train,
        validation_windows(rows_of(rows, "val"), genres, settings, spec),
        len(train),
        (images.shape[1], width, 1),
    )


def blog_pictures(tree_dir: str, genres: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The blog's input: a split's folder tree (one folder per genre) of RGB pictures, resized."""
    paths, labels = [], []
    for index, genre in enumerate(genres):
        folder = Path(tree_dir, genre)
        found = (
            sorted(p for p in folder.iterdir() if not p.name.startswith("."))
            if folder.is_dir()
            else []
        )
        paths += found
        labels += [index] * len(found)
    pictures = np.stack([data.blog_picture(data.read_png(p), size) for p in paths])
    return pictures, one_hot(np.array(labels, dtype=np.int32), len(genres))


def blog_datasets(tree_dirs: dict[str, str], genres, settings: TrainSettings, seed: int):
    pictures, onehot = blog_pictures(tree_dirs["train"], genres, settings.image_size)
    train = TrainingBatches(
        pictures, onehot, settings.batch_size, seed, augment=blog_augmentation(seed)
    )
    return (
        train,
        blog_pictures(tree_dirs["val"], genres, settings.image_size),
        len(train),
        (settings.image_size, settings.image_size, 3),
    )


def trainable(classifier: keras.Model, settings: TrainSettings, seed: int) -> keras.Model:
    """The model that is trained: the classifier behind its recipe's in-step augmentation."""
    if settings.recipe == "blog":
        return classifier  # its augmentation is in its batches
    masks = SpecAugment(
        settings.freq_masks,
        settings.freq_mask_max,
        settings.time_masks,
        settings.time_mask_max,
        seed=seed,
    )
    return with_masks(classifier, masks)


def compile_model(
    model: keras.Model, settings: TrainSettings, steps_per_epoch: int, xla: bool
) -> None:
    """``xla``: compile the training step (see :class:`genreflow.runtime.Runtime`); JAX always
    does, since it would otherwise run op by op."""
    if settings.recipe == "blog":
        optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        loss = keras.losses.CategoricalCrossentropy()
    else:
        total = max(1, settings.epochs * steps_per_epoch)
        warmup = min(total - 1, settings.warmup_epochs * steps_per_epoch)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=settings.learning_rate / 10,
            decay_steps=total - warmup,
            warmup_target=settings.learning_rate,
            warmup_steps=warmup,
            alpha=0.01,
        )
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule,
            weight_decay=settings.weight_decay,
            use_ema=settings.ema_momentum > 0,
            ema_momentum=settings.ema_momentum,
        )
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=["accuracy"],
        jit_compile=xla or keras.backend.backend() == "jax",
    )


def selection_start(settings: TrainSettings) -> int:
    """First epoch (0-based) that may be restored as the best one or stop training early.

    While the learning rate is high, the loss on a small validation set swings by +-0.5 from
    one epoch to the next; a lucky early epoch would otherwise be restored (an undertrained
    model) or end training before the schedule has done its work.
    """
    return min(settings.epochs - 1, max(settings.warmup_epochs, settings.epochs // 3))


def callbacks_for(
    settings: TrainSettings, backup_dir: Path, extra: list | None = None
) -> list[keras.callbacks.Callback]:
    """BackupAndRestore comes first so that an epoch is in the backup before it is in the
    history: an interruption between the two loses a history line, never duplicates one."""
    history_csv = backup_dir / "history.csv"
    callbacks = [
        # double checkpoint: a kill in the middle of a save leaves the previous one usable
        keras.callbacks.BackupAndRestore(str(backup_dir / "checkpoint"), double_checkpoint=True),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        EpochLog(),
    ]
    if settings.recipe != "blog":
        start = selection_start(settings)
        if settings.ema_momentum > 0:
            # After the backup (which keeps the raw weights and the averages in the optimizer):
            # validation and the best-epoch file see the averaged weights, and so does the saved
            # model, which fit() loads from that file (an early stop leaves raw weights in place)
            callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
        callbacks += [
            BestWeights(
                backup_dir / "best.weights.h5", start, best_so_far(history_csv, "val_loss", start)
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.patience, start_from_epoch=start
            ),
        ]
    return callbacks + list(extra or [])


def fit(
    rows: list[dict[str, str]],
    genres: list[str],
    settings: TrainSettings,
    spec: SpectrogramParams,
    seed: int,
    tree_dirs: dict[str, str],
    backup_dir: Path,
    model_path: Path,
    history_path: Path,
    xla: bool = False,
    verbose: int = 2,
    extra_callbacks: list | None = None,
) -> keras.Model:
    """Train one model of the default or blog recipe and write it with its history; an
    interrupted run resumes from ``backup_dir`` at the last finished epoch. Returns the trained
    classifier (what is saved). The musicnn recipe trains with genreflow.transfer.fit."""
    if settings.recipe == "musicnn":
        raise ValueError("the musicnn recipe trains with genreflow.transfer.fit, not training.fit")
    prepare_backup(backup_dir, run_fingerprint(rows, settings, spec, seed))
    log_finished_epochs(backup_dir / "history.csv")
    if settings.recipe == "blog":
        train, val, steps, input_shape = blog_datasets(tree_dirs, genres, settings, seed)
        classifier = models.blog_cnn(input_shape, len(genres), seed=seed)
    else:
        train, val, steps, input_shape = default_datasets(rows, genres, settings, spec, seed)
        classifier = models.default_cnn(
            input_shape, len(genres), settings.filters, settings.dropout, settings.input_pool
        )
    model = trainable(classifier, settings, seed)
    compile_model(model, settings, steps, xla)
    log.info(
        "training %s on %d tracks, %d steps/epoch, input %s, %d parameters, %s backend",
        classifier.name,
        len(rows_of(rows, "train")),
        steps,
        input_shape,
        classifier.count_params(),
        keras.backend.backend(),
    )
    model.fit(
        train,
        validation_data=val,
        validation_batch_size=settings.batch_size,
        epochs=settings.epochs,
        callbacks=callbacks_for(settings, backup_dir, extra_callbacks),
        verbose=verbose,
    )
    best = backup_dir / "best.weights.h5"
    if best.exists():
        model.load_weights(str(best))
    save_atomic(classifier, model_path)
    with atomic_path(history_path) as tmp:
        shutil.copyfile(backup_dir / "history.csv", tmp)
    shutil.rmtree(backup_dir, ignore_errors=True)
    return classifier
