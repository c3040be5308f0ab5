"""Featurisation speed: the workflow against the same library code run as plain processes (the
2-core limit is two of them over halves of the files) and against the blog's published loop; then
what adding clips to a featurised set costs.

Every method featurises the same N synthetic 30-s clips from nothing, in one run of this script,
so the ratios compare like with like. Prints markdown tables.

Usage: python bench/featurize.py [--files 1000] [--added 10] [--work /tmp/genreflow-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import GENRES, REPO, machine, run_timed, synthetic_gtzan, table, workflow_command

LEAN_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
LOOP = str(REPO / "bench" / "featurize_loop.py")


def loop(audio: Path, out: Path, *extra: str) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    return run_timed([sys.executable, LOOP, str(audio), str(out), *extra], env=LEAN_ENV)


def two_processes(audio: Path, out: Path) -> float:
    """Wall time of two loop processes over halves of the files, started together."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, **LEAN_ENV}
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, LOOP, str(audio), str(out), "--part", f"{i}/2"], env=env)
        for i in (0, 1)
    ]
    if any(p.wait() for p in procs):
        raise RuntimeError("a reference process failed")
    return time.perf_counter() - start


# the index of every spectrogram: its job takes every PNG as input
INDEX = "results/spectrograms/index.tsv"


def snakemake(workdir: Path, *args: str) -> tuple[float, float]:
    cmd = workflow_command(
        workdir, "--quiet", "all", "--configfile", str(workdir / "bench.yaml"), *args
    )
    return run_timed(cmd, env=LEAN_ENV)


def workflow(audio: Path, workdir: Path) -> tuple[float, float]:
    """``snakemake --cores 2`` from nothing, asking for the spectrograms' index."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "bench.yaml").write_text(f"audio_dir: {audio}\n")
    return snakemake(workdir, "--", INDEX)


def png_stats(workdir: Path) -> dict[Path, tuple[int, int]]:
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (workdir / "results/spectrograms").glob("*/*.png")
    }


def add_clips(audio: Path, files: list[Path], count: int) -> list[Path]:
    """``count`` new clips numbered after the existing ones (as a user adds clips to GTZAN)."""
    from genreflow.demo import synthesize, write_wav_atomic

    first = max(int(f.stem.split(".")[1]) for f in files) + 1
    added = []
    for i in range(count):
        genre_index = i % len(GENRES)
        path = (
            audio
            / GENRES[genre_index]
            / f"{GENRES[genre_index]}.{first + i // len(GENRES):05d}.wav"
        )
        write_wav_atomic(path, synthesize(genre_index, first + i, 30.0, 22050, seed=2), 22050)
        added.append(path)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--added", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-bench"))
    args = parser.parse_args()
    audio = args.work / "audio"
    shutil.rmtree(audio, ignore_errors=True)
    files = synthetic_gtzan(audio, args.files)
    loop(
        audio, args.work / "warm-up"
    )  # page cache and numba's compiled-function cache warm for everyone

    wall = {
        "one": loop(audio, args.work / "loop")[0],
        "two": two_processes(audio, args.work / "two"),
        "workflow": workflow(audio, args.work / "wf")[0],
        "blog": run_timed(
            [
                sys.executable,
                str(REPO / "bench" / "blog_method.py"),
                str(audio),
                str(args.work / "blog"),
            ],
            env=LEAN_ENV,
        )[0],
    }
    rows = [
        ["library loop, 1 process", wall["one"]],
        ["library loop, 2 processes over halves (the 2-core limit)", wall["two"]],
        ["workflow from nothing, snakemake --cores 2", wall["workflow"]],
        ["blog's loop (librosa.load + plt.specgram + savefig), 1 process", wall["blog"]],
    ]
    print(f"Featurisation of {args.files} synthetic 30-s clips on {machine()}\n")
    print(
        table(
            ["method", "wall s", "ms/file", "x 2 processes"],
            [
                [m, f"{w:.1f}", f"{w / args.files * 1000:.1f}", f"{w / wall['two']:.2f}"]
                for m, w in rows
            ],
        )
    )
    print(
        f"\nworkflow / 2 processes = {wall['workflow'] / wall['two']:.2f} (target <= 1.3); blog / workflow = {wall['blog'] / wall['workflow']:.1f}x (target >= 5)"
    )

    workdir = args.work / "wf"
    before = png_stats(workdir)
    added = add_clips(audio, files, args.added)
    planning, _ = snakemake(workdir, "-n", "--", INDEX)
    rerun, _ = snakemake(workdir, "--", INDEX)
    after = png_stats(workdir)
    unchanged = sum(after.get(p) == s for p, s in before.items())
    written = len(set(after) - set(before)) + sum(
        after.get(p, s)[0] != s[0] for p, s in before.items()
    )
    noop, _ = snakemake(workdir, "-n", "--", INDEX)
    print(f"\nAdding {args.added} clips (new track numbers) to the {len(before)} featurised ones")
    print("(jazz.00054 is in known_bad_tracks by default, as it is broken in real GTZAN copies)\n")
    print(
        table(
            ["what", "value"],
            [
                ["PNGs written by the re-run", written],
                ["other PNGs with inode and mtime unchanged", f"{unchanged} of {len(before)}"],
                ["re-run, snakemake --cores 2 (s)", f"{rerun:.1f}"],
                ["planning it, snakemake -n (s)", f"{planning:.1f}"],
                ["planning once it is done, snakemake -n (s)", f"{noop:.1f}"],
            ],
        )
    )
    for path in added:
        path.unlink()
    snakemake(workdir, "--", INDEX)  # back to the featurised set

    # clips that fall into existing blocks: taken out, then copied back with their mtime
    held = [f for f in files if f.stem.endswith("7")][: args.added]  # one number in 10
    blocks = {int(f.stem.split(".")[1]) // 50 for f in held}
    block_files = [f for f in files if int(f.stem.split(".")[1]) // 50 in blocks]
    aside = args.work / "held"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    for f in held:
        shutil.move(f, aside / f.name)
    snakemake(workdir, "--", INDEX)
    before = png_stats(workdir)
    for f in held:
        shutil.move(aside / f.name, f)
    rerun, _ = snakemake(workdir, "--", INDEX)
    after = png_stats(workdir)
    written = sum(after.get(p, (None,))[0] != s[0] for p, s in before.items()) + len(
        set(after) - set(before)
    )
    only = args.work / "only-blocks"
    shutil.rmtree(only, ignore_errors=True)
    for f in block_files:
        (only / f.parent.name).mkdir(parents=True, exist_ok=True)
        os.link(f, only / f.parent.name / f.name)
    alone = two_processes(only, args.work / "only-out")
    print(f"\nAdding {len(held)} clips that fall into {len(blocks)} existing block(s)\n")
    print(
        table(
            ["what", "value"],
            [
                ["PNGs written by the re-run (whole blocks)", written],
                ["files in those blocks", len(block_files)],
                ["re-run, snakemake --cores 2 (s)", f"{rerun:.1f}"],
                ["those blocks' files, library loop in 2 processes (s)", f"{alone:.1f}"],
                ["re-run / those blocks alone (target <= 2)", f"{rerun / alone:.2f}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
