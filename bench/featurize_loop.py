"""The single-process baseline: featurise every audio file of a folder in one Python loop.

Usage: python bench/featurize_loop.py AUDIO_DIR OUT_DIR [blog]   (blog: the blog preset's renderer)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from genreflow.featurize import SpectrogramParams, featurize_file  # noqa: E402


def main(audio_dir: str, out_dir: str, preset: str = "default") -> None:
    params = SpectrogramParams()  # the workflow's defaults
    if preset == "blog":
        params = SpectrogramParams(kind="blog_specgram", duration_s=5.0, width_px=800, height_px=800)
    for audio in sorted(Path(audio_dir).glob("*/*.wav")):
        featurize_file(str(audio), f"{out_dir}/{audio.parent.name}/{audio.stem}.png", params)


if __name__ == "__main__":
    main(*sys.argv[1:])
