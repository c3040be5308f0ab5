"""Spectrogram PNGs through Pillow: written atomically, with the provenance of each spectrogram
in UTF-8 text chunks (iTXt) placed before the pixels, so they are read without decoding them."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .atomic import atomic_path

# zlib level 1: 1.1-1.4x the time of a bare no-filter encoder (about 2 ms a spectrogram), files a
# little larger than Pillow's default level 6, which costs several times more per file.
COMPRESS_LEVEL = 1


def write_png_atomic(
    path: str | os.PathLike, image: np.ndarray, text: dict[str, str] | None = None
) -> None:
    """Write an 8-bit grey (HxW) or RGB (HxWx3) image so that ``path`` is either absent or
    complete: a killed job leaves at most a hidden ``.*.tmp`` file, never a truncated PNG."""
    if (
        image.dtype != np.uint8
        or image.ndim not in (2, 3)
        or (image.ndim == 3 and image.shape[2] != 3)
    ):
        raise ValueError(f"expected uint8 HxW or HxWx3, got {image.dtype} {image.shape}")
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    # no .png suffix on the temporary file: globs for *.png never see a half-written one
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", pnginfo=info, compress_level=COMPRESS_LEVEL)


def png_text(source: str | os.PathLike | bytes, verify: bool = False) -> dict[str, str] | None:
    """Text chunks of a PNG (a path or its bytes) without decoding its pixels; None for a missing
    or broken file, and with ``verify`` also unless every chunk is complete and passes its CRC."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            text = {k: str(v) for k, v in img.info.items() if isinstance(v, str)}
            if verify:
                img.verify()
    except Exception:  # Pillow raises many types for broken files (SyntaxError, OSError, ...)
        return None
    return text


def read_png_text(path: str | os.PathLike) -> dict[str, str]:
    """Text chunks of a PNG without decoding its pixels; empty for a missing or broken file."""
    return png_text(path) or {}


class DamagedSpectrogram(OSError):
    """A spectrogram that cannot be what its featurisation job wrote; the message names it."""


def read_png(path: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """The pixels of a PNG. With ``sha256`` (what the featurisation job recorded, carried by the
    manifest), a file that differs is removed, so that the next run makes it again, and
    reported by name; so is one that does not decode."""
    data = Path(path).read_bytes()
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        why = "its sha256 is not the one its featurisation job recorded"
    else:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # decodes now: np.asarray would hide a decoding error in an object array
                return np.asarray(img)
        except (OSError, SyntaxError, ValueError) as err:  # Pillow's errors for broken files
            if not sha256:
                raise DamagedSpectrogram(f"{path} cannot be decoded ({err})") from err
            why = f"it cannot be decoded: {err}"
    os.remove(path)
    raise DamagedSpectrogram(
        f"{path} is damaged ({why}); removed: run snakemake again to make it again"
    )
