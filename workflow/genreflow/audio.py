"""Decoding audio into fixed-length mono float32 at the working sample rate."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import soundfile

# GTZAN's own encoding; anything else is converted and noted in the QC table
NATIVE = {("WAV", "PCM_16"), ("AU", "PCM_16")}
# libsndfile's header dump says "data : 176400 (should be 88178)" when the file ends early
_TRUNCATED = re.compile(
    r"^\s*(?:data|data size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.IGNORECASE | re.MULTILINE
)


class AudioError(ValueError):
    """An audio file that cannot be turned into samples; the message names the file."""


@dataclass
class AudioInfo:
    source_rate: int
    channels: int
    subtype: str
    duration_s: float
    format: str = ""
    notes: list[str] = field(default_factory=list)
    # of the samples as read (float32, every channel, before downmixing and resampling): the
    # same audio under two names or in two lossless formats has the same digest
    sha256: str = ""


def decode(
    path: str, target_rate: int, offset_s: float = 0.0, duration_s: float | None = None
) -> tuple[np.ndarray, AudioInfo]:
    """Mono float32 samples at ``target_rate``, read from ``offset_s`` for at most ``duration_s``.

    Stereo is averaged, other rates are resampled (librosa, with soxr), 8-bit/float/FLAC are handled by
    libsndfile; every such conversion is listed in ``info.notes``. A truncated file decodes to
    the samples it holds (libsndfile is lenient there). Nothing is padded here: see
    :func:`fit_length`.
    """
    try:
        with soundfile.SoundFile(path) as sf:
            rate, channels, subtype, frames, fmt = (
                sf.samplerate,
                sf.channels,
                sf.subtype,
                sf.frames,
                sf.format,
            )
            start = int(round(offset_s * rate))
            if start:
                sf.seek(min(start, frames))
            count = -1 if duration_s is None else int(round(duration_s * rate))
            samples = sf.read(frames=count, dtype="float32", always_2d=True)
            header = sf.extra_info
    except (
        RuntimeError,
        ValueError,
        EOFError,
        OSError,
    ) as err:  # LibsndfileError is a RuntimeError
        raise AudioError(f"{path}: cannot decode audio ({err})") from err
    info = AudioInfo(
        source_rate=rate, channels=channels, subtype=subtype, duration_s=frames / rate, format=fmt
    )
    if (fmt, subtype) not in NATIVE:
        info.notes.append(f"decoded {fmt} {subtype} (not 16-bit PCM WAV/AU)")
    truncated = _TRUNCATED.search(header)
    if truncated:
        info.notes.append(
            f"truncated file: header declares {truncated[1]} bytes of audio, file holds {truncated[2]}"
        )
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: no samples after offset {offset_s:g} s")
    info.sha256 = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()
    if channels > 1:
        info.notes.append(f"downmixed {channels} channels to mono")
    mono = samples.mean(axis=1, dtype=np.float32)
    if rate != target_rate:
        import librosa  # soxr (its default "soxr_hq") does the work

        mono = librosa.resample(mono, orig_sr=rate, target_sr=target_rate).astype(
            np.float32, copy=False
        )
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
