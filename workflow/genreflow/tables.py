"""The per-track predictions table, shared by evaluation (one model) and summary (the ensemble)."""

from __future__ import annotations

import csv
import os
from typing import Sequence

import numpy as np

from .atomic import atomic_path


def write_track_predictions(
    path: str | os.PathLike,
    files: Sequence[str],
    tracks: Sequence[str],
    true_genres: Sequence[str],
    probabilities: np.ndarray,
    genres: list[str],
) -> None:
    """file, track, true genre, predicted genre, one probability column per genre."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "track", "true_genre", "predicted_genre", *[f"p_{g}" for g in genres]])
        for file, track, truth, probs in zip(files, tracks, true_genres, probabilities):
            writer.writerow([file, track, truth, genres[int(np.argmax(probs))], *[f"{p:.6f}" for p in probs]])
