"""Audio file -> spectrogram PNG, and which PNGs are still up to date."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Iterable

from .audio import AudioError, decode, fit_length
from .pngio import read_png_text, write_png_atomic
from .spectrogram import blog_specgram_image, log_mel, to_grayscale

# Bump when the pixels produced for the same parameters change, so old PNGs are rebuilt.
FORMAT_VERSION = 1
SIGNATURE_KEY = "genreflow:params"
SOURCE_SIZE_KEY = "genreflow:source_size"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpectrogramParams:
    kind: str = "logmel"  # "logmel" or "blog_specgram"
    sample_rate: int = 22050
    offset_s: float = 0.0
    duration_s: float = 30.0
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 11025.0
    db_min: float = -80.0
    db_max: float = 40.0
    width_px: int = 640
    height_px: int = 480

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> "SpectrogramParams":
        known = {k: v for k, v in section.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return 1 + self.n_samples // self.hop_length

    def signature(self) -> str:
        payload = json.dumps({"format": FORMAT_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def render(samples, params: SpectrogramParams):
    if params.kind == "blog_specgram":
        return blog_specgram_image(samples, params.width_px, params.height_px)
    db = log_mel(samples, params.sample_rate, params.n_fft, params.hop_length, params.n_mels, params.fmin, params.fmax)
    return to_grayscale(db, params.db_min, params.db_max)


def featurize_file(audio_path: str, png_path: str, params: SpectrogramParams) -> list[str]:
    """Write the spectrogram PNG of one audio file; returns notes on what had to be adapted."""
    samples, info = decode(audio_path, params.sample_rate, params.offset_s, params.duration_s)
    samples, pad_note = fit_length(samples, params.n_samples)
    notes = info.notes + ([pad_note] if pad_note else [])
    image = render(samples, params)
    text = {
        SIGNATURE_KEY: params.signature(),
        "genreflow:source": os.path.basename(audio_path),
        SOURCE_SIZE_KEY: str(os.path.getsize(audio_path)),
        "genreflow:source_rate": str(info.source_rate),
        "genreflow:channels": str(info.channels),
        "genreflow:format": info.format,
        "genreflow:subtype": info.subtype,
        "genreflow:duration_s": f"{info.duration_s:.3f}",
        "genreflow:notes": "; ".join(notes),
    }
    write_png_atomic(png_path, image, text)
    return notes


def remove_leftovers(png_path: str) -> None:
    """Delete temporary files a killed job left for this PNG (see ``atomic_path``); only the
    job that owns the PNG calls this, so no other job's temporary file is touched."""
    target = Path(png_path)
    for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.tmp*"):
        leftover.unlink(missing_ok=True)


@dataclass(frozen=True)
class FeaturizeFailure:
    audio: str
    png: str
    reason: str


def featurize_many(pairs: Iterable[tuple[str, str]], params: SpectrogramParams) -> list[FeaturizeFailure]:
    """Featurise every (audio, png) pair; a bad file is reported and never stops the others."""
    failures = []
    for audio_path, png_path in pairs:
        remove_leftovers(png_path)
        try:
            notes = featurize_file(audio_path, png_path, params)
        except AudioError as err:
            log.error("REJECTED %s", err)
            failures.append(FeaturizeFailure(audio_path, png_path, str(err)))
            continue
        log.info("featurised %s -> %s%s", audio_path, png_path, f" ({'; '.join(notes)})" if notes else "")
    return failures


def is_up_to_date(png_path: str, audio_path: str, signature: str) -> bool:
    """A PNG counts as done when it is newer than its audio, made with the same parameters and
    from a file of the same size (catches a clip replaced by an older copy, e.g. ``cp -p``)."""
    try:
        if os.stat(png_path).st_mtime < os.stat(audio_path).st_mtime:
            return False
        size = os.path.getsize(audio_path)
    except FileNotFoundError:
        return False
    text = read_png_text(png_path)
    return text.get(SIGNATURE_KEY) == signature and text.get(SOURCE_SIZE_KEY, str(size)) == str(size)


def batch_of(track_id: str, n_batches: int) -> int:
    """Stable bucket of a track: the same in the main process and in every cluster job's re-parse."""
    return int(hashlib.sha1(track_id.encode()).hexdigest()[:8], 16) % n_batches


def n_batches_for(n_tracks: int, batch_size: int) -> int:
    return max(1, math.ceil(n_tracks / max(1, batch_size)))


def read_failure_record(path: str | os.PathLike) -> str | None:
    try:
        return Path(path).read_text().strip() or "failed to decode"
    except FileNotFoundError:
        return None
