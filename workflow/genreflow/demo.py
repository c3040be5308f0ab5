"""A small synthetic GTZAN look-alike: ten classes a CNN can tell apart, no download needed.

Each genre has its own pitch register, number of harmonics, pulse rate and noise colour; every
track varies them randomly so that classes overlap a little and the task is not trivial.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path

GTZAN_GENRES = [
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
]


def demo_track_ids(genres: list[str], tracks_per_genre: int) -> list[tuple[str, str]]:
    return [(genre, f"{genre}.{i:05d}") for genre in genres for i in range(tracks_per_genre)]


def synthesize(
    genre_index: int, track_index: int, duration_s: float, sample_rate: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng([seed, genre_index, track_index])
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    f0 = 80.0 * 2 ** (genre_index * 0.45) * rng.uniform(0.94, 1.06)
    n_harmonics = 1 + genre_index % 5
    tone = sum(
        np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k
        for k in range(1, n_harmonics + 1)
    )
    pulse_hz = (0.8 + 0.35 * genre_index) * rng.uniform(0.9, 1.1)
    envelope = (
        0.5 + 0.5 * np.sign(np.sin(2 * np.pi * pulse_hz * t))
        if genre_index % 2
        else 0.6 + 0.4 * np.sin(2 * np.pi * pulse_hz * t)
    )
    noise = rng.standard_normal(t.shape[0])
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(t.shape[0], 1 / sample_rate)
    centre = 300.0 * 1.35**genre_index
    spectrum *= np.exp(-0.5 * (np.log(np.maximum(freqs, 1.0) / centre) / 0.5) ** 2)
    coloured = np.fft.irfft(spectrum, n=t.shape[0])
    coloured /= np.max(np.abs(coloured)) + 1e-9
    signal = (
        0.6 * tone / n_harmonics * envelope
        + 0.3 * coloured
        + 0.02 * rng.standard_normal(t.shape[0])
    )
    return (0.8 * signal / (np.max(np.abs(signal)) + 1e-9)).astype(np.float32)


def write_wav_atomic(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    import soundfile

    with atomic_path(path) as tmp:
        soundfile.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")


def write_demo_dataset(
    out_dir: str | os.PathLike,
    genres: list[str],
    tracks_per_genre: int,
    duration_s: float,
    sample_rate: int,
    seed: int,
) -> list[Path]:
    written = []
    for genre_index, genre in enumerate(genres):
        for track_index in range(tracks_per_genre):
            path = Path(out_dir) / genre / f"{genre}.{track_index:05d}.wav"
            write_wav_atomic(
                path,
                synthesize(genre_index, track_index, duration_s, sample_rate, seed),
                sample_rate,
            )
            written.append(path)
    return written
