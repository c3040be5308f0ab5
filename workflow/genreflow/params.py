"""The spectrogram settings: what a PNG is made with, and the signature stored in it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

# Bump when the pixels produced for the same parameters change, so old PNGs are rebuilt.
FORMAT_VERSION = 2  # 2: librosa features, Pillow PNGs


@dataclass(frozen=True)
class SpectrogramParams:
    kind: str = (
        "logmel"  # "logmel", "blog_specgram" or "musicnn" (16-bit PNGs; the config's default)
    )
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
    def from_config(cls, section: dict[str, Any]) -> SpectrogramParams:
        known = {k: v for k, v in section.items() if k in cls.__dataclass_fields__}
        if known.get("kind") == "musicnn":  # its network fixes the rate, FFT, hop and bands
            from .spectrogram import MUSICNN

            known.update(MUSICNN, fmin=0.0, fmax=MUSICNN["sample_rate"] / 2)
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
