"""Spectrogram PNGs through Pillow: written atomically, with the provenance of each spectrogram
in UTF-8 text chunks (iTXt) placed before the pixels, so they are read without decoding them."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .atomic import atomic_path, sha256_of

# zlib level 1: 1.1-1.4x the time of a bare no-filter encoder (about 2 ms a spectrogram), files a
# little larger than Pillow's default level 6, which costs several times more per file.
COMPRESS_LEVEL = 1


def write_png_atomic(
    path: str | os.PathLike, image: np.ndarray, text: dict[str, str] | None = None
) -> None:
    """Write an 8-bit grey (HxW), 16-bit grey (HxW uint16, Pillow's mode "I;16") or RGB (HxWx3)
    image so that ``path`` is either absent or complete: a killed job leaves at most a hidden
    ``.*.tmp`` file, never a truncated PNG."""
    grey = image.ndim == 2 and image.dtype in (np.uint8, np.uint16)
    if not (grey or (image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(
            f"expected uint8/uint16 HxW or uint8 HxWx3, got {image.dtype} {image.shape}"
        )
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    # no .png suffix on the temporary file: globs for *.png never see a half-written one
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", pnginfo=info, compress_level=COMPRESS_LEVEL)


def read_png_text(path: str | os.PathLike) -> dict[str, str]:
    """Text chunks of a PNG without decoding its pixels; empty for a missing or broken file."""
    try:
        with Image.open(path) as img:
            return {k: str(v) for k, v in img.info.items() if isinstance(v, str)}
    except Exception:  # Pillow raises many types for broken files (SyntaxError, OSError, ...)
        return {}


class DamagedSpectrogram(OSError):
    """A spectrogram that is not what its featurisation job wrote; the message names it and the
    command that makes it again."""


def remake_command(pngs: Iterable[str | os.PathLike]) -> str:
    return "snakemake --forcerun " + " ".join(f"'{p}'" for p in pngs)


def check_pngs(pngs: list[str], sha256s: list[str]) -> None:
    """Stop, naming every missing or damaged file and the command that makes them again, unless
    each PNG has the sha256 its job recorded: what the jobs that train run first. (Snakemake
    remakes a missing PNG only when a job that takes it as input runs, as the index's does.)"""
    missing = [p for p in pngs if not os.path.exists(p)]
    damaged = [
        p for p, sha in zip(pngs, sha256s) if sha and p not in missing and sha256_of(p) != sha
    ]
    if missing or damaged:
        raise DamagedSpectrogram(
            f"{len(missing)} spectrogram(s) missing, {len(damaged)} not what their featurisation "
            f"job wrote (another sha256): {', '.join(missing + damaged)}; make them again with: "
            + remake_command(missing + damaged)
        )


def read_png(path: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """The pixels of a PNG (uint16 for a 16-bit one). With ``sha256`` (what the featurisation job
    recorded), a file that differs stops the reader, naming it and the command that remakes it;
    so does one that does not decode."""
    data = Path(path).read_bytes()
    why = None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        why = "its sha256 is not the one its featurisation job recorded"
    else:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # decodes now: np.asarray would hide a decoding error in an object array
                return np.asarray(img)
        except (OSError, SyntaxError, ValueError) as err:  # Pillow's errors for broken files
            why = f"it cannot be decoded: {err}"
    raise DamagedSpectrogram(
        f"{path} is damaged ({why}); make it again with: {remake_command([path])}"
    )
