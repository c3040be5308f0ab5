"""The model inputs of one track, for every recipe (the default recipe's sliding windows, the
blog's one resized picture, musicnn's 3-s patches), and a model's probabilities on them: what
training, the pretrained recipe, evaluation and predict share."""

from __future__ import annotations

import os

import numpy as np

from . import data
from .params import SpectrogramParams
from .recipe import TrainSettings


def window_frames(settings: TrainSettings, spec: SpectrogramParams) -> int:
    return data.frames_for(settings.window_s, spec.sample_rate, spec.hop_length)


def hop_frames(settings: TrainSettings, spec: SpectrogramParams) -> int:
    return data.frames_for(settings.eval_hop_s, spec.sample_rate, spec.hop_length)


def read_representation(png: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """A clip's musicnn representation as (frames, 96 mel bands) float32; the PNG holds it with
    the mel bands as rows, as every spectrogram kind here."""
    return np.asarray(data.read_png(png, sha256), dtype=np.float32).T


def clip_patches(representation: np.ndarray) -> np.ndarray:
    """(patches, 187, 96): the clip cut into musicnn's 3-s patches, hop = patch length."""
    from .musicnn_input import patches

    return patches(representation).astype(np.float32, copy=False)


def track_patches(png: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """The model inputs of one track (evaluation and predict)."""
    return clip_patches(read_representation(png, sha256))


def track_windows(
    png_path: str, settings: TrainSettings, spec: SpectrogramParams, sha256: str | None = None
) -> np.ndarray:
    """The model inputs that make up one track: sliding windows, the blog's one resized image, or
    musicnn's patches."""
    if settings.recipe == "musicnn":
        return track_patches(png_path, sha256)
    image = data.read_png(png_path, sha256)
    if settings.recipe == "blog":
        return data.blog_picture(image, settings.image_size)[None]
    return data.sliding_windows(image, window_frames(settings, spec), hop_frames(settings, spec))


def predict_tracks(
    model,
    png_paths: list[str],
    settings: TrainSettings,
    spec: SpectrogramParams,
    chunk: int = 1024,
    sha256s: list[str | None] | None = None,
) -> list[np.ndarray]:
    """Per-track (windows, classes) probabilities, predicting in bounded chunks of windows; with
    the recorded sha256s, a damaged spectrogram stops the job naming it."""
    results: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush():
        if pending:
            probs = model.predict(
                np.concatenate(pending), batch_size=settings.batch_size * 4, verbose=0
            )
            start = 0
            for windows in pending:
                results.append(probs[start : start + len(windows)].astype(np.float64))
                start += len(windows)
            pending.clear()

    for path, sha256 in zip(png_paths, sha256s or [None] * len(png_paths)):
        pending.append(track_windows(path, settings, spec, sha256))
        if sum(len(w) for w in pending) >= chunk:
            flush()
    flush()
    return results
