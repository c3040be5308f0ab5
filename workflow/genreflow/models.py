"""The two networks: the default windowed CNN and the blog post's CNN."""

from __future__ import annotations

import keras
from keras import layers


def default_cnn(input_shape: tuple[int, int, int], n_classes: int, filters=(16, 32, 64, 128), dropout: float = 0.3) -> keras.Model:
    """Conv-BN-ReLU-MaxPool blocks, global average pooling, softmax in float32.

    Global pooling makes the head independent of the window length and keeps the model small
    (~100k parameters), which is what lets it train in minutes on two CPU cores.
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    for n_filters in filters:
        x = layers.Conv2D(n_filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # small datasets: few steps per epoch
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="genreflow_cnn")


def blog_cnn(input_shape: tuple[int, int, int], n_classes: int, seed: int | None = None) -> keras.Model:
    """The blog's network, with its ImageDataGenerator augmentation (shear 0.2, zoom 0.2,
    horizontal flip, rescale 1/255) expressed as preprocessing layers."""
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.RandomShear(x_factor=0.2, y_factor=0.2, seed=seed)(x)
    x = layers.RandomZoom(0.2, seed=seed)(x)
    x = layers.RandomFlip("horizontal", seed=seed)(x)
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
