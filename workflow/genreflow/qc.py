"""QC tables: rejected audio with reasons, and how each used track was read."""

from __future__ import annotations

import csv
import os
from typing import Iterable

from .atomic import atomic_path

REJECTED_FIELDS = ("path", "genre", "track_id", "reason")
TRACK_FIELDS = ("track", "genre", "audio", "spectrogram", "source_rate", "channels", "format", "subtype", "duration_s", "notes")
# control characters a file name may contain that would split a TSV row or cell
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def cell(value: object) -> str:
    """A TSV cell for any value, file names included: tabs and newlines become visible escapes
    (so every file stays one row) and bytes that are not UTF-8 become ``\\xNN``."""
    text = str(value)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_tsv_atomic(path: str | os.PathLike, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """Tab-separated and quoted only where a cell holds a quote, so odd file names stay one row."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for row in rows:
            writer.writerow([cell(v) for v in row])


def write_rejections(path: str | os.PathLike, rejections: list[dict]) -> None:
    write_tsv_atomic(path, REJECTED_FIELDS, ([r.get(k, "") for k in REJECTED_FIELDS] for r in rejections))


def write_track_table(path: str | os.PathLike, records: list[dict[str, str]]) -> None:
    """One row per featurised track, from the blocks' index records."""
    rows = [[r["key"], r["label"], r["audio"], r["png"], *[r.get(k, "") for k in TRACK_FIELDS[4:]]] for r in records]
    write_tsv_atomic(path, TRACK_FIELDS, rows)


def job_rejections(records: list[dict[str, str]], known: set[str]) -> list[dict[str, str]]:
    """Rejections the featurisation jobs recorded that start-up did not know of yet."""
    return [
        {"path": r["audio"], "genre": r["label"], "track_id": r["key"], "reason": r["reason"]}
        for r in records
        if r["key"] not in known
    ]


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
