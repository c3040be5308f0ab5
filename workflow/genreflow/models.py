"""The two networks: the default windowed CNN and the blog post's CNN."""

from __future__ import annotations

import keras
from keras import layers


def default_cnn(
    input_shape: tuple[int, int, int],
    n_classes: int,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    dropout: float = 0.3,
    input_pool: tuple[int, int] = (2, 2),
) -> keras.Model:
    """Conv-BN-ReLU-MaxPool blocks, pooling over time only, softmax in float32.

    ``input_pool`` averages the (mels, frames) input first: 64 mel bands x 46 ms frames still
    separate genres, and it makes every later layer 4x cheaper (the first blocks dominate the
    cost), which is what lets ~700 tracks train in minutes on two CPU cores.
    Averaging over time but not over frequency keeps *where* in the spectrum the energy is
    (bass line vs cymbals), which a 2-D global average would throw away; the head still does
    not depend on the window length.
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    if tuple(input_pool) != (1, 1):
        x = layers.AveragePooling2D(tuple(input_pool))(x)
    for n_filters in filters:
        x = layers.Conv2D(n_filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # small datasets: few steps per epoch
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    bands, frames, channels = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Permute((2, 1, 3))(x)  # (frames, bands, channels)
    x = layers.Reshape((frames, bands * channels))(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="genreflow_cnn")


def blog_cnn(
    input_shape: tuple[int, int, int], n_classes: int, seed: int | None = None
) -> keras.Model:
    """The blog's network (rescale 1/255 included; augmentation: :func:`genreflow.augment.blog_augmentation`)."""
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(64, 3, padding="same")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(64, 3, padding="same")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Activation("relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="blog_cnn")
