"""The blog post's featurisation loop, as published (librosa.load of a 5-s excerpt, plt.specgram
on an 8x8-inch figure, savefig, clf): the baseline the workflow is compared with.

Usage: python bench/blog_method.py AUDIO_DIR OUT_DIR
"""

import sys
from pathlib import Path

import librosa
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(audio_dir: str, out_dir: str) -> None:
    cmap = plt.get_cmap("inferno")
    plt.figure(figsize=(8, 8))
    for song in sorted(Path(audio_dir).glob("*/*.wav")):
        y, sr = librosa.load(song, mono=True, duration=5)
        plt.specgram(
            y,
            NFFT=2048,
            Fs=2,
            Fc=0,
            noverlap=128,
            cmap=cmap,
            sides="default",
            mode="default",
            scale="dB",
        )
        plt.axis("off")
        target = Path(out_dir) / song.parent.name / f"{song.stem.replace('.', '')}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        plt.savefig(target)
        plt.clf()


if __name__ == "__main__":
    main(*sys.argv[1:])
