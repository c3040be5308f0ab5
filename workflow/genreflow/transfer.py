"""The pretrained recipe (``train.recipe: musicnn``): the musicnn network (genreflow.musicnn)
with a new head for the collection's genres.

1. The frozen network's features of every 3-s patch of every clip are computed once, by the
   per-block embeddings jobs (:func:`update_block`, stored by genreflow.embeddings).
2. The head (``linear`` or ``mlp``, a nested model named ``head``) learns from those features:
   every patch is a sample with its track's label; a track is scored on the mean of its patches'
   probabilities.
3. With ``fine_tune_epochs`` > 0, the whole network (backbone + head) then learns from the
   spectrograms' patches at ``fine_tune_learning_rate``, BatchNormalization in inference mode.

The saved ``model.keras`` is one bare classifier, patch (187 frames x 96 mel bands) -> genre
probabilities, used by evaluation and predict like the other recipes' models. With a frozen
backbone, evaluation applies its ``head`` to the stored features instead of running the network
again (the same numbers, without the network's cost).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from .atomic import atomic_path
from .blocks import OK
from .embeddings import (
    LAYERS,
    STORED,
    BlockEmbeddings,
    ClipEmbedding,
    clip_of,
    read_block,
    select,
    write_block,
)
from .fitting import (
    BestWeights,
    EpochLog,
    best_so_far,
    labels_of,
    log_finished_epochs,
    one_hot,
    prepare_backup,
    read_history,
    rows_of,
    run_fingerprint,
    save_atomic,
)
from .inputs import clip_patches, predict_tracks, read_representation, track_patches
from .params import SpectrogramParams
from .recipe import TrainSettings, TransferSettings

log = logging.getLogger(__name__)

PHASES = ("head", "fine_tune")
MIN_VARIANCE = 1e-10  # features whose spread is below this are treated as constant


# --- the network's input ----------------------------------------------------------------------


def load_backbone(weights: str | os.PathLike, architecture: str) -> keras.Model:
    """The pretrained network with the weights converted from the musicnn package."""
    from .musicnn import load_musicnn

    return load_musicnn(str(weights), architecture)


def load_classifier(path: str | os.PathLike) -> keras.Model:
    """A saved model of any recipe; genreflow.musicnn is imported first, so that whatever
    layers the network registers with Keras are known to the loader."""
    try:
        from . import musicnn  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.musicnn":
            raise
    return keras.models.load_model(path)


# --- features of the frozen network -------------------------------------------------------------


def patch_features(
    backbone: keras.Model,
    representations: Sequence[np.ndarray],
    names: Sequence[str] = STORED,
    batch_size: int = 64,
    chunk: int = 2048,
) -> list[dict[str, np.ndarray]]:
    """Per clip, layer name -> (patches, dim) float32. The patches of all clips go through the
    network together, in batches (a 30-s clip has only 10), and in chunks that bound memory."""
    patches = [clip_patches(r) for r in representations]
    if not patches:
        return []
    stacked = np.concatenate(patches)
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(stacked), chunk):
        result = backbone.predict(stacked[start : start + chunk], batch_size=batch_size, verbose=0)
        for name in names:
            outputs[name].append(np.asarray(result[name], dtype=np.float32))
    merged = {name: np.concatenate(parts) for name, parts in outputs.items()}
    bounds = np.cumsum([0] + [len(p) for p in patches])
    return [{name: merged[name][a:b] for name in names} for a, b in zip(bounds, bounds[1:])]


def embed(
    backbone: keras.Model, representations: Sequence[np.ndarray], layer: str, batch_size: int = 64
) -> list[np.ndarray]:
    """Per clip, the (patches, dim) features of ``layer`` (train.transfer.layer)."""
    return [
        select(features, layer)
        for features in patch_features(backbone, representations, LAYERS[layer], batch_size)
    ]


def update_block(
    records: Iterable[Mapping[str, str]],
    out: str | os.PathLike,
    backbone: keras.Model,
    weights_sha256: str,
    architecture: str,
    rebuild: Callable[[str], bool] = lambda png: False,
    clips_per_step: int = 64,
) -> int:
    """Bring one block's embeddings file up to date with the block's featurisation records (key,
    png, png_sha256, status: its index table's rows); returns how many clips were computed. A
    clip is computed again only when it is new, its spectrogram changed, the weights changed, or
    ``rebuild`` names its PNG: audio added to a block costs its own clips."""
    records = [r for r in records if r["status"] == OK]
    previous: dict[str, ClipEmbedding] = {}
    if os.path.exists(out):
        try:
            old = read_block(out)
        except (OSError, ValueError, KeyError) as err:  # damaged, or of another format
            log.info("%s cannot be reused (%s): every clip is computed again", out, err)
        else:
            if (old.weights_sha256, old.architecture) == (weights_sha256, architecture):
                previous = old.clips
    clips: dict[str, ClipEmbedding] = {}
    todo = []
    for record in records:
        clip = previous.get(record["key"])
        if clip and clip.png_sha256 == record["png_sha256"] and not rebuild(record["png"]):
            clips[record["key"]] = clip
        else:
            todo.append(record)
    for start in range(0, len(todo), clips_per_step):
        step = todo[start : start + clips_per_step]
        representations = [read_representation(r["png"], r["png_sha256"]) for r in step]
        for record, features in zip(step, patch_features(backbone, representations)):
            clips[record["key"]] = ClipEmbedding(record["key"], record["png_sha256"], features)
        log.info("computed %d of %d clip(s)", min(start + clips_per_step, len(todo)), len(todo))
    ordered = {r["key"]: clips[r["key"]] for r in records}  # the index's order
    write_block(out, BlockEmbeddings(weights_sha256, architecture, ordered))
    return len(todo)


# --- the models ----------------------------------------------------------------------------------


def build_head(
    n_features: int,
    n_classes: int,
    transfer: TransferSettings,
    mean: np.ndarray,
    variance: np.ndarray,
) -> keras.Model:
    """Standardised features (the training patches' mean and variance, fixed) -> softmax.

    ``linear``: dropout on the features, then one Dense softmax (a logistic regression);
    ``mlp``: Dense-ReLU-Dropout-Dense softmax. The standardisation and the softmax stay float32
    under mixed precision. A feature (nearly) constant on the training patches is only centred,
    as scikit-learn's StandardScaler does: divided by its tiny spread, a clip where it moves would
    get enormous values."""
    variance = np.where(np.asarray(variance) < MIN_VARIANCE, 1.0, variance)
    inputs = keras.Input((n_features,), name="features")
    x = layers.Normalization(mean=mean, variance=variance, name="standardise", dtype="float32")(
        inputs
    )
    if transfer.head == "mlp":
        x = layers.Dense(transfer.head_units, activation="relu", name="hidden")(x)
    x = layers.Dropout(transfer.head_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="genre")(x)
    return keras.Model(inputs, outputs, name="head")


def build_classifier(backbone: keras.Model, head: keras.Model, layer: str) -> keras.Model:
    """patch -> genre probabilities: the backbone up to the features of ``layer`` (a model of
    the backbone's own layers, named like it; the layers behind them, such as the taggram, are
    left out: they would cost time and get no gradient), then the head."""
    outputs = backbone.output
    extractor = keras.Model(
        backbone.input, {name: outputs[name] for name in LAYERS[layer]}, name=backbone.name
    )
    inputs = keras.Input(backbone.input_shape[1:], name="patch")
    features = extractor(inputs)
    parts = [features[name] for name in LAYERS[layer]]
    features = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    return keras.Model(inputs, head(features), name="musicnn_transfer")


def sublayers(model: keras.Layer) -> list[keras.Layer]:
    """Every layer inside ``model``, nested models included."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found += sublayers(layer)
    return found


def unfreeze(backbone: keras.Model) -> None:
    """Make the backbone trainable except its BatchNormalization layers, which stay in inference
    mode with their pretrained statistics (Keras 3 runs a non-trainable BatchNormalization in
    inference mode). Calling the backbone with ``training=False`` (the transfer-learning guide's
    way) does not hold in Keras 3.15: a functional model passes its own call's ``training`` over
    the value given when the graph was built (measured: BatchNormalization used the batch's
    statistics)."""
    backbone.trainable = True
    for layer in sublayers(backbone):
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


class PatchBatches(keras.utils.PyDataset):
    """One epoch of (patches or features, one-hot labels) batches in a random order that
    depends on (seed, epoch) alone."""

    def __init__(self, x: np.ndarray, onehot: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.x, self.onehot, self.batch_size, self.seed = x, onehot, batch_size, seed
        self.epoch = 0
        self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        picked = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[picked], self.onehot[picked]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))


# --- training ----------------------------------------------------------------------------------


def patch_samples(
    rows: Sequence[Mapping[str, str]],
    genres: list[str],
    embeddings: Mapping[str, ClipEmbedding],
    layer: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Every stored patch of ``rows`` as a sample: (features, one-hot label of its track)."""
    features = [
        select(clip_of(embeddings, r["track"], r.get("sha256")).features, layer) for r in rows
    ]
    labels = np.repeat(labels_of(rows, genres), [len(f) for f in features])
    return np.concatenate(features), one_hot(labels, len(genres))


def patch_inputs(
    rows: Sequence[Mapping[str, str]], genres: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Every patch of the spectrograms of ``rows``: (patches, one-hot label of its track)."""
    patches = [track_patches(r["spectrogram"], r.get("sha256")) for r in rows]
    labels = np.repeat(labels_of(rows, genres), [len(p) for p in patches])
    return np.concatenate(patches), one_hot(labels, len(genres))


def head_batch_size(n_patches: int, settings: TrainSettings) -> int:
    """``head_batch_size`` patches, fewer where that would leave an epoch fewer than
    ``min_steps_per_epoch`` updates (40 tracks are 400 patches: 2 batches of 256). Features are
    small and Keras' per-step overhead dominates: an epoch of 8000 patches of 200 features took
    1.1 s with batches of 32 and 0.53 s with 256 (TensorFlow, 2 shared cores, load ~7)."""
    return max(1, min(settings.transfer.head_batch_size, n_patches // settings.min_steps_per_epoch))


def weights_digest(model: keras.Model) -> str:
    digest = hashlib.sha1()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def transfer_fingerprint(rows, settings, spec, seed, backbone) -> str:
    """What a backup is valid for: the run (settings, backend, seed, tracks), the spectrograms
    the features come from, and the pretrained weights."""
    spectrograms = sorted(
        (r["track"], r.get("sha256") or "") for r in rows if r["split"] in ("train", "val")
    )
    payload = [run_fingerprint(rows, settings, spec, seed), spectrograms, weights_digest(backbone)]
    return hashlib.sha1(json.dumps(payload).encode()).hexdigest()


def train_phase(
    model: keras.Model,
    batches: PatchBatches,
    validation: tuple[np.ndarray, np.ndarray],
    optimizer: keras.optimizers.Optimizer,
    epochs: int,
    settings: TrainSettings,
    phase_dir: Path,
    xla: bool,
    verbose: int,
    extra_callbacks: list | None,
) -> None:
    """Fit with the project's callbacks (as training.callbacks_for): resumable from
    ``phase_dir``, early stopping on the validation loss, the best epoch's weights restored."""
    phase_dir.mkdir(parents=True, exist_ok=True)
    history, best = phase_dir / "history.csv", phase_dir / "best.weights.h5"
    log_finished_epochs(history)
    # compiled and fitted as a twin that shares the layers: the saved classifier and its head
    # carry no optimizer (loading one restored under mixed precision warns of its variables)
    model = keras.Model(model.inputs, model.outputs, name=model.name)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
        jit_compile=xla or keras.backend.backend() == "jax",
    )
    callbacks = [
        keras.callbacks.BackupAndRestore(str(phase_dir / "checkpoint"), double_checkpoint=True),
        keras.callbacks.CSVLogger(str(history), append=True),
        EpochLog(),
        BestWeights(best, 0, best_so_far(history, "val_loss")),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience),
        *(extra_callbacks or []),
    ]
    model.fit(
        batches,
        validation_data=validation,
        validation_batch_size=settings.batch_size * 4,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    if best.exists():
        model.load_weights(str(best))


def write_history(history_path: Path, backup_dir: Path) -> None:
    """The phases' histories one after the other, epochs counted on, a ``phase`` column."""
    parts, offset = [], 0
    for phase in PHASES:
        history = read_history(backup_dir / phase / "history.csv")
        if history is None or history.empty:
            continue
        parts.append(history.assign(epoch=history["epoch"] + offset, phase=phase))
        offset = int(parts[-1]["epoch"].max()) + 1
    table = pd.concat(parts, ignore_index=True)
    table = table[["epoch", "phase", *[c for c in table.columns if c not in ("epoch", "phase")]]]
    with atomic_path(history_path) as tmp:
        table.to_csv(tmp, index=False)


def fit(
    rows: list[dict[str, str]],
    genres: list[str],
    settings: TrainSettings,
    spec: SpectrogramParams,
    seed: int,
    backbone: keras.Model,
    embeddings: Mapping[str, ClipEmbedding],
    backup_dir: Path,
    model_path: Path,
    history_path: Path,
    xla: bool = False,
    verbose: int = 2,
    extra_callbacks: list | None = None,
) -> keras.Model:
    """Train the head on the stored features, then (``fine_tune_epochs`` > 0) the whole network
    on the spectrograms' patches; write the classifier and the history. An interrupted run
    resumes from ``backup_dir``: in the head's phase at its last finished epoch, in the
    fine-tuning phase without training the head again."""
    transfer = settings.transfer
    prepare_backup(backup_dir, transfer_fingerprint(rows, settings, spec, seed, backbone))
    train_rows, val_rows = rows_of(rows, "train"), rows_of(rows, "val")
    train_x, train_y = patch_samples(train_rows, genres, embeddings, transfer.layer)
    val_x, val_y = patch_samples(val_rows, genres, embeddings, transfer.layer)
    head = build_head(
        train_x.shape[1], len(genres), transfer, train_x.mean(axis=0), train_x.var(axis=0)
    )
    log.info(
        "training a %s head on %s features (%d) of %d tracks (%d patches), %d validation "
        "tracks, %d parameters, %s backend",
        transfer.head,
        transfer.layer,
        train_x.shape[1],
        len(train_rows),
        len(train_x),
        len(val_rows),
        head.count_params(),
        keras.backend.backend(),
    )
    head_weights = backup_dir / "head.weights.h5"
    if head_weights.exists():  # the head's phase finished before an interruption
        log_finished_epochs(backup_dir / "head" / "history.csv")
        head.load_weights(str(head_weights))
    else:
        train_phase(
            head,
            PatchBatches(train_x, train_y, head_batch_size(len(train_x), settings), seed),
            (val_x, val_y),
            keras.optimizers.AdamW(
                learning_rate=transfer.head_learning_rate,
                weight_decay=transfer.head_weight_decay,
            ),
            transfer.head_epochs,
            settings,
            backup_dir / "head",
            xla,
            verbose,
            extra_callbacks,
        )
        with atomic_path(head_weights, ".weights.h5") as tmp:
            head.save_weights(str(tmp))
    classifier = build_classifier(backbone, head, transfer.layer)
    extractor = classifier.get_layer(backbone.name)
    if transfer.fine_tune_epochs > 0:
        unfreeze(extractor)
        train_p, train_py = patch_inputs(train_rows, genres)
        log.info(
            "fine-tuning the whole network: %d trainable parameters, %d patches, rate %g",
            sum(int(np.prod(v.shape)) for v in classifier.trainable_variables),
            len(train_p),
            transfer.fine_tune_learning_rate,
        )
        train_phase(
            classifier,
            PatchBatches(train_p, train_py, settings.batch_size, seed),
            patch_inputs(val_rows, genres),
            # no weight decay: it would pull the pretrained weights towards zero
            keras.optimizers.Adam(learning_rate=transfer.fine_tune_learning_rate),
            transfer.fine_tune_epochs,
            settings,
            backup_dir / "fine_tune",
            xla,
            verbose,
            extra_callbacks,
        )
    else:
        extractor.trainable = False
    save_atomic(classifier, model_path)
    write_history(history_path, backup_dir)
    shutil.rmtree(backup_dir, ignore_errors=True)
    return classifier


# --- scoring -----------------------------------------------------------------------------------


def patch_probabilities(
    model: keras.Model,
    rows: Sequence[Mapping[str, str]],
    settings: TrainSettings,
    embeddings: Mapping[str, ClipEmbedding] | None = None,
) -> list[np.ndarray]:
    """Per track, (patches, classes) probabilities. A model with the pretrained backbone
    (``fine_tune_epochs: 0``) and the stored features: its head on those features, without
    running the network again; otherwise the whole model on the spectrograms' patches."""
    if not rows:
        return []
    if not (settings.transfer.frozen and embeddings is not None):
        return predict_tracks(
            model,
            [r["spectrogram"] for r in rows],
            settings,
            SpectrogramParams(),  # unused by this recipe: the patches are musicnn's
            sha256s=[r.get("sha256") for r in rows],
        )
    head = model.get_layer("head")
    features = [
        select(clip_of(embeddings, r["track"], r.get("sha256")).features, settings.transfer.layer)
        for r in rows
    ]
    if features[0].shape[1] != head.input_shape[-1]:
        raise ValueError(
            f"the model's head reads {head.input_shape[-1]} features, but train.transfer.layer "
            f"{settings.transfer.layer} gives {features[0].shape[1]}: train it again"
        )
    probabilities = head.predict(
        np.concatenate(features), batch_size=settings.batch_size * 4, verbose=0
    )
    bounds = np.cumsum([0] + [len(f) for f in features])
    return [probabilities[a:b].astype(np.float64) for a, b in zip(bounds, bounds[1:])]
