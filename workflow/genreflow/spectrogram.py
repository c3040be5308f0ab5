"""Log-mel spectrograms computed by librosa, and the blog's matplotlib image."""

from __future__ import annotations

import numpy as np


def log_mel(
    samples: np.ndarray,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    fmin: float,
    fmax: float,
) -> np.ndarray:
    """Mel power in dB relative to full scale (ref 1.0), shape (n_mels, frames): librosa's
    ``melspectrogram`` (centred frames, zero padding, Slaney mel filters) and ``power_to_db``.

    A fixed reference (not the clip's maximum) keeps loudness comparable across clips.
    """
    import librosa  # ~1.5 s to import: paid once per featurisation job, not per file

    mel = librosa.feature.melspectrogram(
        y=samples,
        sr=sample_rate,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        power=2.0,
        center=True,
        pad_mode="constant",
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)


def to_grayscale(db: np.ndarray, db_min: float, db_max: float) -> np.ndarray:
    """Quantise dB to uint8 over a fixed range, low frequencies at the bottom of the image."""
    scaled = (np.clip(db, db_min, db_max) - db_min) * (255.0 / (db_max - db_min))
    return np.flipud(np.rint(scaled)).astype(np.uint8)


def blog_specgram_image(samples: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """The blog post's picture: ``plt.specgram(NFFT=2048, Fs=2, Fc=0, noverlap=128,
    cmap="inferno")``, axes off, RGB (drawn full-bleed: the blog's margins carry no signal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    try:
        ax = fig.add_axes((0, 0, 1, 1))
        # a silent clip makes specgram's log10 warn and draw -inf; the image stays well defined
        with np.errstate(divide="ignore", invalid="ignore"):
            ax.specgram(
                samples + 1e-12,
                NFFT=2048,
                Fs=2,
                Fc=0,
                noverlap=128,
                cmap="inferno",
                sides="default",
                mode="default",
                scale="dB",
            )
        ax.set_axis_off()
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        return np.ascontiguousarray(rgba[..., :3])
    finally:
        plt.close(fig)


# musicnn's input (Pons & Serra 2019, github.com/jordipons/musicnn, extractor.py): 96 mel bands
# of 16 kHz audio, n_fft 512, hop 256, log10(1 + 10000 mel). Stored as 16-bit grey over
# [0, MUSICNN_MAX]: the largest value seen on the gtzan-dev clips is 6.60 and a full-scale 1 kHz
# sine gives 6.66, so 8 leaves headroom; larger values (none seen) are clipped to 8.
MUSICNN = {"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96}
MUSICNN_MAX = 8.0


def musicnn_representation(samples: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """(96, frames) float32, row 0 the lowest band: musicnn's own input
    (:func:`genreflow.musicnn.input_representation`, the representation the network was trained
    on and the port is checked with) of audio already resampled to 16 kHz, stored like every
    spectrogram with frequency as rows. musicnn feeds its network the transpose, (frames, 96)."""
    from .musicnn_input import input_representation

    if sample_rate != MUSICNN["sample_rate"]:
        raise ValueError(f"musicnn's input is made at 16000 Hz, not {sample_rate}")
    return np.ascontiguousarray(input_representation(samples, sample_rate).T)


def quantise16(values: np.ndarray, high: float = MUSICNN_MAX) -> np.ndarray:
    """Values in [0, high] as uint16 (clipped), low bands at the bottom as for every PNG."""
    scaled = np.clip(values, 0.0, high) * (65535.0 / high)
    return np.flipud(np.rint(scaled)).astype(np.uint16)


def dequantise16(image: np.ndarray, high: float = MUSICNN_MAX) -> np.ndarray:
    """The inverse of :func:`quantise16`: float32, row 0 the lowest band again; the error is at
    most half a step, high / 131070 (6.1e-5 for musicnn)."""
    return np.flipud(image.astype(np.float32) * np.float32(high / 65535.0)).copy()
