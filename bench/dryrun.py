"""Dry-run cost of planning the workflow for many audio files (snakemake -n from nothing).

Placeholders are hard links to one tiny valid WAV, so the start-up checks (the first bytes of
every file no job has seen) really run on every file. Prints a markdown table of wall time and
peak memory.

Usage: python bench/dryrun.py [--sizes 1000 10000 100000] [--work /tmp/genreflow-dryrun]
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

from common import GENRES, REPO, SNAKEMAKE, machine, run_timed, table


def placeholders(root: Path, n_files: int) -> None:
    """Hard links to one tiny WAV per genre (a file system allows ~65k links per inode)."""
    import soundfile

    shutil.rmtree(root, ignore_errors=True)
    for genre in GENRES:
        (root / genre).mkdir(parents=True)
        soundfile.write(root / genre / ".template.wav", np.zeros(64, dtype=np.float32), 22050, subtype="PCM_16")
    for i in range(n_files):
        genre = GENRES[i % len(GENRES)]
        os.link(root / genre / ".template.wav", root / genre / f"{genre}.{i // len(GENRES):05d}.wav")
    for genre in GENRES:
        (root / genre / ".template.wav").unlink()


def dry_run(audio: Path, workdir: Path) -> tuple[float, float]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    overrides = workdir / "bench.yaml"
    overrides.write_text(f"audio_dir: {audio}\n")
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", "-n", "--quiet", "rules", "--configfile", str(overrides)]
    return run_timed(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-dryrun"))
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        audio = args.work / f"audio_{n}"
        placeholders(audio, n)
        wall, rss = dry_run(audio, args.work / f"wd_{n}")
        rows.append([f"{n:,}", f"{wall:.1f}", f"{rss:.0f}", "yes" if wall < 15 and rss < 2048 else "NO"])
        shutil.rmtree(audio, ignore_errors=True)
    print(f"snakemake -n on {machine()}\n")
    print(table(["audio files", "wall s", "peak RSS MiB", "< 15 s and < 2 GiB"], rows))


if __name__ == "__main__":
    main()
