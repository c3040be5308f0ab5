"""Scoring a trained model on the manifest's splits and writing predictions and plots."""

from __future__ import annotations

import json
import os

import numpy as np

from .atomic import atomic_path
from .inputs import predict_tracks
from .metrics import score, track_probabilities
from .tables import write_track_predictions
from .transfer import patch_probabilities


def evaluate_split(model, rows, genres, settings, spec, embeddings=None) -> tuple[dict, np.ndarray]:
    """Scores and track probabilities of ``rows``; ``embeddings`` (the musicnn recipe's stored
    features, see genreflow.transfer.patch_probabilities) spare the network's forward pass."""
    index = {g: i for i, g in enumerate(genres)}
    labels = np.array([index[r["genre"]] for r in rows], dtype=np.int64)
    if settings.recipe == "musicnn":
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
