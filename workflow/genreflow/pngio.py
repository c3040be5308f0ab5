"""PNG files written atomically, with the provenance of each spectrogram in its text chunks."""

from __future__ import annotations

import os

import numpy as np

from .atomic import atomic_path


def write_png_atomic(path: str | os.PathLike, image: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write ``image`` (uint8, HxW or HxWx3) so that ``path`` is either absent or complete.

    A killed job leaves at most a hidden ``.*.tmp`` file, never a truncated PNG.
    """
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", pnginfo=info, compress_level=1)


def read_png_text(path: str | os.PathLike) -> dict[str, str]:
    """Text chunks of a PNG without decoding its pixels; empty for a missing or broken file."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return {k: v for k, v in img.info.items() if isinstance(v, str)}
    except (OSError, SyntaxError, ValueError):
        return {}


def read_png(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img)
