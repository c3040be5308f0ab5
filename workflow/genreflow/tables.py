"""Every table the workflow reads or writes goes through pandas: written atomically, read back as
strings, any file name kept intact (quoted where it holds the separator, a quote or a newline;
bytes that are not UTF-8 kept as they are)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .atomic import atomic_path

# control characters a file name may contain; tables meant for people show them escaped, so that
# every file stays one line of the file
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def read_table(path: str | os.PathLike, sep: str = "\t") -> pd.DataFrame:
    return pd.read_csv(
        path, sep=sep, dtype=str, keep_default_na=False, encoding_errors="surrogateescape"
    )


def write_table(path: str | os.PathLike, table: pd.DataFrame, sep: str = "\t") -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep=sep, index=False, lineterminator="\n", errors="surrogateescape")


def shown(value: object) -> str:
    """A cell for people: tabs and newlines as visible escapes, bytes that are not UTF-8 as \\xNN."""
    text = str(value)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_report_table(path: str | os.PathLike, columns: Sequence[str], rows) -> None:
    """A table for people (QC, per-class scores): one line per row, whatever the file names."""
    write_table(
        path, pd.DataFrame([[shown(v) for v in row] for row in rows], columns=list(columns))
    )


def read_manifest(path: str | os.PathLike) -> list[dict[str, str]]:
    """The split's manifest (track, genre, split, spectrogram, sha256), one dict per track."""
    return read_table(path, sep=",").to_dict("records")


def write_track_predictions(
    path: str | os.PathLike,
    files: Sequence[str],
    tracks: Sequence[str],
    true_genres: Sequence[str],
    probabilities: np.ndarray,
    genres: list[str],
) -> None:
    """file, track, true genre, predicted genre, one probability column per genre."""
    probabilities = np.asarray(probabilities, dtype=float).reshape(len(tracks), len(genres))
    table = pd.DataFrame(
        {
            "file": list(files),
            "track": list(tracks),
            "true_genre": list(true_genres),
            "predicted_genre": [genres[i] for i in probabilities.argmax(axis=1)]
            if len(tracks)
            else [],
            **{f"p_{g}": [f"{p:.6f}" for p in probabilities[:, i]] for i, g in enumerate(genres)},
        }
    )
    write_table(path, table, sep=",")


def read_track_predictions(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    """A predictions table and its probability columns as a (tracks, genres) array."""
    table = read_table(path, sep=",")
    columns = [c for c in table.columns if c.startswith("p_")]
    return table, table[columns].to_numpy(dtype=float)
