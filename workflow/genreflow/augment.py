"""Training-time augmentation as Keras layers, on every backend: SpecAugment masks and the blog's
shear/zoom/flip. The masks run inside the compiled training step (:func:`with_masks`), where the
model runs (the GPU, when there is one), and never at inference; the saved model is the bare
classifier, with no random layers in it. The blog's layers, which Keras cannot compile, run on
each batch of the input instead, as mixup does (``training.TrainingBatches``)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops


class SpecAugment(layers.Layer):
    """SpecAugment's frequency and time masking (no time warping) of (batch, bands, frames, 1)
    windows: each mask zeroes a band of 0..``*_max`` rows or columns at a random place, drawn
    per example. The identity unless ``training``."""

    def __init__(
        self,
        freq_masks: int,
        freq_max: int,
        time_masks: int,
        time_max: int,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.freq_masks, self.freq_max, self.time_masks, self.time_max, self.seed = (
            freq_masks,
            freq_max,
            time_masks,
            time_max,
            seed,
        )
        self.generator = keras.random.SeedGenerator(seed)

    def band_keep(self, batch, size: int, max_width: int):
        """(batch, size) 0/1: 0 on one random band of each example."""
        width = keras.random.randint((batch, 1), 0, max_width + 1, seed=self.generator)
        places = ops.maximum(size - width + 1, 1)  # a band wider than the axis masks all of it
        start = ops.cast(
            keras.random.uniform((batch, 1), seed=self.generator) * ops.cast(places, "float32"),
            "int32",
        )
        positions = ops.arange(size, dtype="int32")[None, :]
        return ops.cast(
            ops.logical_or(positions < start, positions >= start + width), self.compute_dtype
        )

    def call(self, images, training=False):
        if not training:
            return images
        batch, bands, frames = ops.shape(images)[0], images.shape[1], images.shape[2]
        for _ in range(self.freq_masks):
            images = images * self.band_keep(batch, bands, self.freq_max)[:, :, None, None]
        for _ in range(self.time_masks):
            images = images * self.band_keep(batch, frames, self.time_max)[:, None, :, None]
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        keys = ("freq_masks", "freq_max", "time_masks", "time_max", "seed")
        return {**super().get_config(), **{k: getattr(self, k) for k in keys}}


def blog_augmentation(seed: int | None = None) -> keras.Sequential:
    """The blog's ImageDataGenerator augmentation (shear_range=0.2, zoom_range=0.2, horizontal
    flip). ImageDataGenerator's shear_range is an angle in degrees, while RandomShear takes the
    shear factor (tan of the angle), hence tan(0.2 deg). Kept out of the saved model: random
    layers have no business at inference, and a saved RandomShear does not load back in Keras 3.15."""
    return keras.Sequential(
        [
            layers.RandomShear(x_factor=math.tan(math.radians(0.2)), seed=seed, dtype="float32"),
            layers.RandomZoom(0.2, seed=seed, dtype="float32"),
            layers.RandomFlip("horizontal", seed=seed, dtype="float32"),
        ],
        name="blog_augmentation",
    )


def with_masks(classifier: keras.Model, masks: SpecAugment) -> keras.Model:
    """The model that is trained: ``masks`` in front of ``classifier``, active only in training
    and compiled into the training step with it. ``classifier`` shares its weights and is what
    gets saved."""
    inputs = keras.Input(classifier.input_shape[1:])
    return keras.Model(inputs, classifier(masks(inputs)), name=f"{classifier.name}_training")
