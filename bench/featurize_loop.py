"""The library's featurisation as a plain loop over a folder: the reference the workflow is
measured against. ``--part I/N`` takes every N-th file starting at I, so that N such processes
in parallel make the N-core limit.

Usage: python bench/featurize_loop.py AUDIO_DIR OUT_DIR [--blog] [--part I/N]
"""

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from genreflow.blocks import Item  # noqa: E402
from genreflow.featurize import featurize_file
from genreflow.params import SpectrogramParams  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--blog", action="store_true", help="the blog preset's renderer")
    parser.add_argument("--part", default="0/1")
    args = parser.parse_args()
    # the settings of the workflow's default configuration, which the workflow runs with
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    params = SpectrogramParams.from_config(config["spectrogram"])
    if args.blog:
        params = SpectrogramParams(
            kind="blog_specgram", duration_s=5.0, width_px=800, height_px=800
        )
    index, parts = map(int, args.part.split("/"))
    for audio in sorted(Path(args.audio_dir).glob("*/*.wav"))[index::parts]:
        png = f"{args.out_dir}/{audio.parent.name}/{audio.stem}.png"
        featurize_file(Item(audio.stem, str(audio), png, audio.parent.name, audio.stem), params)


if __name__ == "__main__":
    main()
