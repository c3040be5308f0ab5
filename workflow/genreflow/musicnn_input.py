"""musicnn's input: the representation its network was trained on, and its 3-s patches (numpy
and librosa only, so that the featurisation jobs' environment needs no Keras; the network is in
genreflow.musicnn), and where the consumers find its weights file."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1


def input_representation(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """musicnn's input, (frames, 96) float32: mono audio resampled to 16 kHz by librosa, its mel
    power spectrogram (n_fft 512, hop 256, 96 bands, librosa's other defaults, as the wheel's
    ``extractor.batch_data``) and log10(1 + 10000 mel).

    The wheel rounds the mel power to float16 before the logarithm (its training data were
    stored as float16 too); that rounding is kept, but the logarithm is computed in float32.
    Under NumPy 1 the wheel's ``10000 * x`` on a float16 array was promoted to float32 (10000
    is a uint16 scalar there); NumPy 2 keeps float16, so every mel value above 6.55 overflows
    to inf. Values beyond float16's range (never seen in music) keep their float32 value.
    """
    import librosa  # ~1.5 s to import: paid once per job, not per file

    mono = np.asarray(samples, dtype=np.float32)
    if mono.ndim == 2:  # (frames, channels), as soundfile reads
        mono = mono.mean(axis=1, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    mel = librosa.feature.melspectrogram(
        y=mono, sr=SAMPLE_RATE, hop_length=HOP_LENGTH, n_fft=N_FFT, n_mels=N_MELS
    ).T
    rounded = mel.astype(np.float16).astype(np.float32)
    rounded = np.where(np.isfinite(rounded), rounded, mel)
    return np.log10(np.float32(10000) * rounded + np.float32(1)).astype(np.float32)


def patches(
    representation: np.ndarray, frames: int = PATCH_FRAMES, hop: int = PATCH_FRAMES
) -> np.ndarray:
    """(n, frames, 96): the patches the wheel's extractor cuts (from frame 0, every ``hop``
    frames, the incomplete tail dropped). A clip shorter than one patch is repeated until it
    fills one (``np.pad`` mode "wrap"): musicnn's training padded short clips that way
    (``pad_short: repeat-pad`` in the checkpoints' config.json), where zeros would add a
    silence the clip does not have."""
    if representation.ndim != 2 or representation.shape[0] == 0:
        raise ValueError(f"expected a (frames, bands) representation, got {representation.shape}")
    if representation.shape[0] < frames:
        representation = np.pad(
            representation, ((0, frames - representation.shape[0]), (0, 0)), mode="wrap"
        )
    starts = range(0, representation.shape[0] - frames + 1, hop)
    return np.stack([representation[s : s + frames] for s in starts]).astype(np.float32)


def converted_weights(architecture: str) -> str:
    """Where rule pretrained writes ``architecture``'s converted weights."""
    return f"results/pretrained/{architecture}.weights.h5"


def pretrained_weights(settings: dict) -> str:
    """The weights file the consumers read, from the ``pretrained`` config section: its
    ``weights`` when set (converted elsewhere: no conversion job), else :func:`converted_weights`."""
    return settings["weights"] or converted_weights(settings["architecture"])
