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
