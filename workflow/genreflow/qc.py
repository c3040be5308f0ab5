"""QC tables: rejected audio with reasons, and how each used track was read."""

from __future__ import annotations

import os

from .tables import write_report_table

REJECTED_FIELDS = ("path", "genre", "track_id", "reason")
TRACK_FIELDS = (
    "track",
    "genre",
    "audio",
    "spectrogram",
    "source_rate",
    "channels",
    "format",
    "subtype",
    "duration_s",
    "notes",
)


def write_rejections(path: str | os.PathLike, rejections: list[dict]) -> None:
    write_report_table(
        path, REJECTED_FIELDS, ([r.get(k, "") for k in REJECTED_FIELDS] for r in rejections)
    )


def write_track_table(path: str | os.PathLike, records: list[dict[str, str]]) -> None:
    """One row per featurised track, from the blocks' index records."""
    rows = [
        [r["key"], r["label"], r["audio"], r["png"], *[r.get(k, "") for k in TRACK_FIELDS[4:]]]
        for r in records
    ]
    write_report_table(path, TRACK_FIELDS, rows)


def job_rejections(records: list[dict[str, str]]) -> list[dict[str, str]]:
    """The files the featurisation jobs rejected, from their tables."""
    return [
        {"path": r["audio"], "genre": r["label"], "track_id": r["key"], "reason": r["reason"]}
        for r in records
        if r["status"] != "ok"
    ]
