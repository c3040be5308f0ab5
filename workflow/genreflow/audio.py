"""Decoding audio into fixed-length mono float32 at the working sample rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soundfile


class AudioError(ValueError):
    """An audio file that cannot be turned into samples; the message names the file."""


@dataclass
class AudioInfo:
    source_rate: int
    channels: int
    subtype: str
    duration_s: float
    notes: list[str] = field(default_factory=list)


def decode(path: str, target_rate: int, offset_s: float = 0.0, duration_s: float | None = None) -> tuple[np.ndarray, AudioInfo]:
    """Mono float32 samples at ``target_rate``, read from ``offset_s`` for at most ``duration_s``.

    Stereo is averaged, other rates are resampled (soxr), 8-bit/float/FLAC are handled by
    libsndfile. Nothing is padded here: see :func:`fit_length`.
    """
    try:
        with soundfile.SoundFile(path) as sf:
            rate, channels, subtype, frames = sf.samplerate, sf.channels, sf.subtype, sf.frames
            start = int(round(offset_s * rate))
            if start:
                sf.seek(min(start, frames))
            count = -1 if duration_s is None else int(round(duration_s * rate))
            samples = sf.read(frames=count, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise AudioError(f"{path}: cannot decode audio ({err})") from err
    info = AudioInfo(source_rate=rate, channels=channels, subtype=subtype, duration_s=frames / rate)
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: no samples after offset {offset_s:g} s")
    if channels > 1:
        info.notes.append(f"downmixed {channels} channels to mono")
    mono = samples.mean(axis=1, dtype=np.float32)
    if rate != target_rate:
        import soxr  # only needed for off-rate files

        mono = soxr.resample(mono, rate, target_rate).astype(np.float32, copy=False)
        info.notes.append(f"resampled {rate} Hz to {target_rate} Hz")
    if not np.all(np.isfinite(mono)):
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
        info.notes.append("replaced non-finite samples by 0")
    if not np.any(mono):
        info.notes.append("silent (all samples are zero)")
    return mono, info


def fit_length(samples: np.ndarray, length: int) -> tuple[np.ndarray, str | None]:
    """Zero-pad or crop to exactly ``length`` samples; a note when padding was needed."""
    if samples.shape[0] >= length:
        return samples[:length], None
    missing = length - samples.shape[0]
    return np.pad(samples, (0, missing)), f"padded {missing} samples of silence at the end"
