"""The single-process baseline: featurise every audio file of a folder in one Python loop.

Usage: python bench/featurize_loop.py AUDIO_DIR OUT_DIR [logmel|blog_specgram]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from genreflow.featurize import SpectrogramParams, featurize_file  # noqa: E402


def main(audio_dir: str, out_dir: str, kind: str = "logmel") -> None:
    params = SpectrogramParams(kind=kind, duration_s=5.0 if kind == "blog_specgram" else 30.0)
    for audio in sorted(Path(audio_dir).glob("*/*.wav")):
        featurize_file(str(audio), f"{out_dir}/{audio.parent.name}/{audio.stem}.png", params)


if __name__ == "__main__":
    main(*sys.argv[1:])
