"""Finding GTZAN-style tracks in an audio folder and sniffing them cheaply."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

TRACK_FILE_RE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(?P<ext>au|wav)$")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"


@dataclass(frozen=True)
class Track:
    genre: str
    track_id: str  # file stem, e.g. "blues.00000"; unique across the dataset
    audio: str  # path to the audio file

    @property
    def key(self) -> str:
        return f"{self.genre}/{self.track_id}"


@dataclass(frozen=True)
class Rejection:
    path: str
    reason: str
    genre: str = ""
    track_id: str = ""


def discover_tracks(audio_dir: str | os.PathLike, genres: list[str]) -> tuple[list[Track], list[Rejection]]:
    """Tracks laid out as ``<genre>/<genre>.NNNNN.{au,wav}``, plus every file that was skipped and why.

    Files that do not follow the layout (``.DS_Store``, ``._*``, ``*.mf``, PNGs, folders of
    unknown genres) are reported, never silently dropped.
    """
    root = Path(audio_dir)
    tracks: list[Track] = []
    ignored: list[Rejection] = []
    wanted = set(genres)
    with os.scandir(root) as top:
        entries = sorted(top, key=lambda e: e.name)
    for entry in entries:
        if not entry.is_dir():
            ignored.append(Rejection(entry.path, "not inside a genre folder"))
            continue
        if entry.name not in wanted:
            ignored.append(Rejection(entry.path, f"folder '{entry.name}' is not a configured genre"))
            continue
        with os.scandir(entry.path) as genre_dir:
            files = sorted(genre_dir, key=lambda e: e.name)
        for f in files:
            match = TRACK_FILE_RE.match(f.name)
            if match is None or not f.is_file():
                ignored.append(Rejection(f.path, "name does not match <genre>.NNNNN.{au,wav}", genre=entry.name))
            elif match["genre"] != entry.name:
                ignored.append(
                    Rejection(f.path, f"file of genre '{match['genre']}' inside folder '{entry.name}'", genre=entry.name)
                )
            else:
                tracks.append(Track(entry.name, Path(f.name).stem, f.path))
    return tracks, ignored


def sniff_audio(path: str | os.PathLike) -> str | None:
    """Why a file cannot be audio, from its size and header alone; None when it looks decodable.

    This is cheap (one header read), so it runs at DAG-build time and keeps bad files out of
    featurisation jobs, where a failure would take the good files of the same job down with it.
    """
    import soundfile

    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as err:
        return f"cannot read file: {err.strerror}"
    if head.startswith(LFS_POINTER_PREFIX):
        return "Git LFS pointer, not audio (run 'git lfs pull')"
    try:
        info = soundfile.info(str(path))
    except Exception as err:  # libsndfile raises several types for unknown formats
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"not a readable audio file ({first_line})"
    if info.frames <= 0:
        return "audio has no samples"
    if info.samplerate <= 0:
        return f"invalid sample rate {info.samplerate}"
    return None
