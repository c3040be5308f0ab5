"""What storing musicnn's input as a PNG costs against the float32 features: the error of 16-bit
and of 8-bit quantisation over the same fixed range, on real clips. Prints a markdown table.

Usage: python bench/musicnn_png.py [--clips ../shared/data/gtzan-dev]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from common import REPO, table  # noqa: E402

from genreflow.audio import decode, fit_length  # noqa: E402
from genreflow.spectrogram import (  # noqa: E402
    MUSICNN_MAX,
    dequantise16,
    musicnn_representation,
    quantise16,
)


def eight_bit(values: np.ndarray) -> np.ndarray:
    """The same range in 256 levels, back to float."""
    levels = np.rint(np.clip(values, 0, MUSICNN_MAX) * (255 / MUSICNN_MAX))
    return (levels * (MUSICNN_MAX / 255)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=REPO.parent / "shared/data/gtzan-dev")
    args = parser.parse_args()
    errors = {"16-bit": [], "8-bit": []}
    peak = 0.0
    for clip in sorted(args.clips.glob("*/*.wav")):
        samples, _ = decode(str(clip), 16000, 0.0, 30.0)
        rep = musicnn_representation(fit_length(samples, 480000)[0], 16000)
        peak = max(peak, float(rep.max()))
        for name, back in (("16-bit", dequantise16(quantise16(rep))), ("8-bit", eight_bit(rep))):
            errors[name].append(np.abs(back - rep).ravel())
    rows = []
    for name, errs in errors.items():
        err = np.concatenate(errs)
        rows.append([name, f"{err.max():.2e}", f"{err.mean():.2e}", f"{err.max() / peak:.2e}"])
    print(
        f"{len(errors['16-bit'])} clips of {args.clips}, range [0, {MUSICNN_MAX}], "
        f"largest value {peak:.3f}\n"
    )
    print(table(["PNG", "max abs error", "mean abs error", "max error / largest value"], rows))


if __name__ == "__main__":
    main()
