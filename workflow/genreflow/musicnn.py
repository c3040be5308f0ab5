"""musicnn (Pons & Serra, 2019) in Keras 3: its input representation, the network and its
pretrained weights.

The ``musicnn`` wheel on PyPI (0.1.0, ISC licence) ships TensorFlow 1 checkpoints of the tagger
trained on the Million Song Dataset (``MSD_musicnn``, last.fm tags) and on MagnaTagATune
(``MTT_musicnn``). :func:`convert_checkpoint` turns one into a Keras 3 weights file once (the only
step that needs TensorFlow); :func:`load_musicnn` builds the network here, with ``keras.layers``
and ``keras.ops`` only, and loads that file on any Keras backend. The network follows the wheel's
``musicnn/models.py`` op for op (``tests/test_musicnn.py`` compares the two):

- front-end: batch norm of the (frames, 96) log-mel patch; timbral filters of 7 frames x 38 and
  x 67 mel bands (204 each, time zero-padded by 3 so that every frame keeps an output) and
  temporal filters of 128, 64 and 32 frames x 1 band (51 each, "same" padding); each filter is
  ReLU, then batch norm, then a max over all bands;
- mid-end: three 1-D convolutions of 7 frames (64 filters, ReLU then batch norm) over the
  concatenated front-end features, the 2nd and 3rd with residual connections;
- back-end: max and mean over time of the front-end and mid-end features together (753 =
  561 + 3 x 64 values each), batch norm, a dense layer of 200 (ReLU then batch norm: the
  "penultimate" features) and 50 tag logits.

Batch norms use TF1's ``tf.compat.v1.layers.batch_normalization`` defaults (epsilon 1e-3),
which are also Keras' own; the checkpoint's dropout layers do nothing at inference and are left
out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from .musicnn_input import (  # noqa: F401 (the input's constants and functions, re-exported)
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    converted_weights,
    input_representation,
    patches,
    pretrained_weights,
)

ARCHITECTURES = ("MSD_musicnn", "MTT_musicnn")
FEATURES = (
    "timbral",
    "temporal",
    "cnn1",
    "cnn2",
    "cnn3",
    "mean_pool",
    "max_pool",
    "penultimate",
    "taggram",
)
N_TAGS = 50

# Width of each part of the network (the wheel's build_musicnn with num_filt 1.6, mid-end 64,
# back-end 200, the same for MSD and MTT).
TIMBRAL_FILTERS = int(1.6 * 128)  # 204
TEMPORAL_FILTERS = int(1.6 * 32)  # 51
TIMBRAL_BANDS = (int(0.4 * N_MELS), int(0.7 * N_MELS))  # 38, 67 mel bands
TEMPORAL_FRAMES = (128, 64, 32)
MIDEND_FILTERS = 64
MIDEND_FRAMES = 7
BACKEND_UNITS = 200
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default

# Keras layer -> the TF1 variable scope of the checkpoint that holds its weights, in the order
# the wheel's graph creates them (tf.compat.v1.layers numbers its layers per kind).
CHECKPOINT_SCOPES = {
    "input_bn": "batch_normalization",
    "timbral_38": "conv2d",
    "timbral_38_bn": "batch_normalization_1",
    "timbral_67": "conv2d_1",
    "timbral_67_bn": "batch_normalization_2",
    "temporal_128": "conv2d_2",
    "temporal_128_bn": "batch_normalization_3",
    "temporal_64": "conv2d_3",
    "temporal_64_bn": "batch_normalization_4",
    "temporal_32": "conv2d_4",
    "temporal_32_bn": "batch_normalization_5",
    "midend_1": "conv2d_5",
    "midend_1_bn": "batch_normalization_6",
    "midend_2": "conv2d_6",
    "midend_2_bn": "batch_normalization_7",
    "midend_3": "conv2d_7",
    "midend_3_bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9",
    "penultimate_dense": "dense",
    "penultimate_bn": "batch_normalization_10",
    "tags": "dense_1",
}


# --- input ---------------------------------------------------------------------------------


# --- the network ---------------------------------------------------------------------------


def _batch_norm(name: str):
    from keras import layers

    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def build_musicnn(architecture: str = "MSD_musicnn", batch_size: int | None = None):
    """The musicnn tagger as a Keras model: input (batch, 187, 96) float32 log-mel patches,
    output a dict with every name of :data:`FEATURES` plus ``logits``.

    Shapes for one patch of 187 frames: timbral (187, 408), temporal (187, 153), cnn1-3
    (187, 64), mean_pool and max_pool (753,), penultimate (200,), taggram and logits (50,).
    ``batch_size`` fixes the batch dimension (a little faster where it is always the same).
    """
    import keras
    from keras import layers, ops

    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture {architecture!r}: expected one of {ARCHITECTURES}")
    inputs = keras.Input((PATCH_FRAMES, N_MELS), batch_size=batch_size, name="log_mel")
    x = layers.Reshape((PATCH_FRAMES, N_MELS, 1))(inputs)
    x = _batch_norm("input_bn")(x)

    # front-end: timbral filters see 7 frames (time zero-padded: 'same' along time only,
    # since the max over all bands follows), temporal filters one band
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
    frontend = []
    for bands in TIMBRAL_BANDS:
        name = f"timbral_{bands}"
        y = layers.Conv2D(TIMBRAL_FILTERS, (7, bands), activation="relu", name=name)(padded)
        # the wheel's max-pool over all bands and its squeeze
        frontend.append(ops.max(_batch_norm(f"{name}_bn")(y), axis=2))
    # the temporal filters run on the transposed patch, (bands, frames), as (1, frames)
    # kernels: the same sums, but TensorFlow's CPU convolution is ~2x faster with the long
    # axis last (0.21 s against 0.40 s for the 128-frame filters of 10 patches, one thread;
    # XLA on JAX runs both layouts alike)
    bands_first = ops.transpose(x, (0, 2, 1, 3))
    for frames in TEMPORAL_FRAMES:
        name = f"temporal_{frames}"
        y = layers.Conv2D(
            TEMPORAL_FILTERS, (1, frames), padding="same", activation="relu", name=name
        )(bands_first)
        frontend.append(ops.max(_batch_norm(f"{name}_bn")(y), axis=1))
    timbral = ops.concatenate(frontend[:2], axis=-1)
    temporal = ops.concatenate(frontend[2:], axis=-1)
    frontend_features = ops.concatenate([timbral, temporal], axis=-1)  # (batch, frames, 561)

    # mid-end: the wheel's conv2d of 7 frames x all features, zero-padded by 3 frames, is a 1-D
    # convolution with 'same' padding over the features as channels
    midend = [frontend_features]
    for i in (1, 2, 3):
        y = layers.Conv1D(
            MIDEND_FILTERS, MIDEND_FRAMES, padding="same", activation="relu", name=f"midend_{i}"
        )(midend[-1])
        y = _batch_norm(f"midend_{i}_bn")(y)
        midend.append(y if i == 1 else layers.Add()([y, midend[-1]]))
    features = ops.concatenate(midend, axis=-1)  # (batch, frames, 753)

    # back-end: the wheel flattens concat([max, mean], axis=2) of shape (753, 2), so the
    # dense layer sees max and mean interleaved per feature
    max_pool = ops.max(features, axis=1)
    mean_pool = ops.mean(features, axis=1)
    pooled = ops.reshape(ops.stack([max_pool, mean_pool], axis=-1), (-1, 2 * features.shape[-1]))
    pooled = _batch_norm("pool_bn")(pooled)
    dense = layers.Dense(BACKEND_UNITS, activation="relu", name="penultimate_dense")(pooled)
    penultimate = _batch_norm("penultimate_bn")(dense)
    logits = layers.Dense(N_TAGS, name="tags")(penultimate)

    outputs = {
        "timbral": timbral,
        "temporal": temporal,
        "cnn1": midend[1],
        "cnn2": midend[2],
        "cnn3": midend[3],
        "mean_pool": mean_pool,
        "max_pool": max_pool,
        "penultimate": penultimate,
        "taggram": ops.sigmoid(logits),
        "logits": logits,
    }
    return keras.Model(inputs, outputs, name=architecture)


def load_musicnn(
    weights_path: str | os.PathLike,
    architecture: str = "MSD_musicnn",
    batch_size: int | None = None,
):
    """:func:`build_musicnn` with the weights of :func:`convert_checkpoint` loaded."""
    model = build_musicnn(architecture, batch_size)
    model.load_weights(weights_path)
    return model


# --- the workflow's weights file --------------------------------------------------------------


def check_pretrained(settings: dict) -> None:
    """Start-up check of the ``pretrained`` section: a given weights file must exist and be a
    weights file such as rule pretrained writes (Keras picks the format by the name's suffix).
    A ValueError names the key (not genreflow.config's ConfigError: that module needs PyYAML,
    which the TensorFlow environment of rule pretrained lacks)."""
    weights = settings["weights"]
    if weights and not weights.endswith(".weights.h5"):
        raise ValueError(
            f"pretrained.weights: '{weights}' is not a Keras weights file as rule pretrained writes (the name must end in .weights.h5)"
        )
    if weights and not os.path.isfile(weights):
        raise ValueError(
            f"pretrained.weights: '{weights}' does not exist (leave it empty to convert the "
            "musicnn wheel's checkpoint here)"
        )


# --- the wheel's checkpoints ----------------------------------------------------------------


def checkpoint_dir(architecture: str) -> Path:
    """The folder of ``architecture``'s TF1 checkpoint inside the installed ``musicnn`` wheel.

    Found with ``importlib.util.find_spec``, which locates the package without running it (its
    modules import TensorFlow and set TF1 graph mode for the whole process)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture {architecture!r}: expected one of {ARCHITECTURES}")
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the musicnn package is not installed: pip install --no-deps musicnn==0.1.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / architecture
    if not (folder / ".index").is_file():
        raise FileNotFoundError(f"{folder}: no TF1 checkpoint (.index) of {architecture}")
    return folder


def wheel_stamp(architecture: str) -> dict[str, str]:
    """What a conversion depends on: the installed wheel's version and the digest of
    ``architecture``'s checkpoint. Without the wheel here (``--sdm conda``: the job's environment
    brings it), a note that says so."""
    import importlib.metadata

    try:
        return {
            "wheel": importlib.metadata.version("musicnn"),
            "checkpoint_sha256": checkpoint_digest(checkpoint_dir(architecture)),
        }
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError) as err:
        return {"wheel": f"not installed where snakemake runs ({err})"}


def checkpoint_digest(checkpoint_dir: str | os.PathLike) -> str:
    """sha256 of the checkpoint's files (index and data, 9.5 MB: ~20 ms), so that a changed
    checkpoint makes the converted weights again."""
    digest = hashlib.sha256()
    for path in sorted(Path(checkpoint_dir).glob(".*-of-*")) + [Path(checkpoint_dir, ".index")]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def checkpoint_weights(checkpoint_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every variable of a TF1 checkpoint by name (TensorFlow needed, only here).

    The wheel's checkpoints are saved under the prefix ``<dir>/`` (empty file name) and their
    ``checkpoint`` file points to the author's disk, so ``tf.train.load_checkpoint(<dir>)``
    cannot find them; its reader is opened on the prefix instead."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(Path(checkpoint_dir)) + os.sep)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _layer_weights(layer, scope: str, variables: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The checkpoint's arrays for one Keras layer, in the order of ``layer.get_weights()``."""
    if layer.__class__.__name__ == "BatchNormalization":
        names = ("gamma", "beta", "moving_mean", "moving_variance")
        return [variables[f"{scope}/{n}"] for n in names]
    kernel, bias = variables[f"{scope}/kernel"], variables[f"{scope}/bias"]
    # the port's kernels differ from the wheel's only by axes of length 1: the mid-end's
    # (7, features, 1, filters) conv2d is a Conv1D, the temporal (frames, 1) filters are (1, frames)
    wanted = tuple(layer.kernel.shape)
    if [n for n in kernel.shape if n != 1] != [n for n in wanted if n != 1]:
        raise ValueError(f"{scope}/kernel: shape {kernel.shape} does not fit {layer.name} {wanted}")
    return [kernel.reshape(wanted), bias]


def convert_checkpoint(
    checkpoint_dir: str | os.PathLike, architecture: str, weights_path: str | os.PathLike
) -> None:
    """Write a TF1 checkpoint of the wheel as a Keras 3 weights file (``*.weights.h5``), atomically.

    Every Keras layer with weights takes them from its checkpoint scope; a missing variable, a
    shape that does not fit or a network variable of the checkpoint left over (anything but the
    optimizer's state) stops the conversion."""
    from .atomic import atomic_path

    variables = checkpoint_weights(checkpoint_dir)
    model = build_musicnn(architecture)
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        scope = CHECKPOINT_SCOPES[layer.name]
        layer.set_weights(_layer_weights(layer, scope, variables))  # raises on a shape mismatch
        used.update(name for name in variables if name.startswith(f"{scope}/"))
    left_over = sorted(
        name
        for name in set(variables) - used
        if "Adam" not in name and name not in ("beta1_power", "beta2_power")
    )
    if left_over:
        raise ValueError(
            f"{checkpoint_dir}: variables the {architecture} port does not use: {left_over}"
        )
    with atomic_path(weights_path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
