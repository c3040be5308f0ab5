"""Scoring a trained model on the manifest's splits and writing predictions and plots."""

from __future__ import annotations

import json
import os

import numpy as np

from . import data
from .atomic import atomic_path
from .metrics import score, track_probabilities
from .params import SpectrogramParams
from .recipe import TrainSettings
from .tables import write_track_predictions


def track_windows(
    png_path: str, settings: TrainSettings, spec: SpectrogramParams, sha256: str | None = None
) -> np.ndarray:
    """The model inputs that make up one track: sliding windows, the blog's one resized image, or
    musicnn's patches."""
    if settings.recipe == "musicnn":
        from .transfer import track_patches

        return track_patches(png_path, sha256)
    image = data.read_png(png_path, sha256)
    if settings.recipe == "blog":
        return data.blog_picture(image, settings.image_size)[None]
    from .training import hop_frames, window_frames

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


def evaluate_split(model, rows, genres, settings, spec, embeddings=None) -> tuple[dict, np.ndarray]:
    """Scores and track probabilities of ``rows``; ``embeddings`` (the musicnn recipe's stored
    features, see genreflow.transfer.patch_probabilities) spare the network's forward pass."""
    index = {g: i for i, g in enumerate(genres)}
    labels = np.array([index[r["genre"]] for r in rows], dtype=np.int64)
    if settings.recipe == "musicnn":
        from .transfer import patch_probabilities

        window_probs = patch_probabilities(model, rows, settings, embeddings)
    else:
        window_probs = predict_tracks(
            model,
            [r["spectrogram"] for r in rows],
            settings,
            spec,
            sha256s=[r.get("sha256") for r in rows],
        )
    return score(window_probs, labels, genres), track_probabilities(window_probs)


def write_predictions(
    path: str | os.PathLike, rows, probabilities: np.ndarray, genres: list[str]
) -> None:
    """One row per manifest row: its spectrogram, track, true and predicted genre, probabilities."""
    write_track_predictions(
        path,
        [r["spectrogram"] for r in rows],
        [r["track"] for r in rows],
        [r["genre"] for r in rows],
        probabilities,
        genres,
    )


def write_seed_metrics(path: str | os.PathLike, seed: int, results: dict) -> None:
    """One seed's scores, written whole or not at all (the profiles' keep-incomplete keeps the
    outputs of a failed job, so every output must be complete when it exists)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"seed": seed, "splits": results}, indent=2))
