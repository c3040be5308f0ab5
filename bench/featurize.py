"""Featurisation speed: one Python loop vs the workflow vs the blog's matplotlib method.

All methods featurise the same N synthetic 30-s clips from nothing, in one run, so the ratios
compare like with like. Prints a markdown table.

Usage: python bench/featurize.py [--files 200] [--work /tmp/genreflow-bench] [--per-file-jobs 60]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from common import REPO, SNAKEMAKE, machine, run_timed, synthetic_gtzan, table

LEAN_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def loop(audio: Path, out: Path, script: str = "featurize_loop.py", *extra: str) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    return run_timed([sys.executable, str(REPO / "bench" / script), str(audio), str(out), *extra], env=LEAN_ENV)


def workflow(audio: Path, workdir: Path, files: list[Path], batch_size: int | None = None) -> tuple[float, float]:
    """``snakemake --cores 2`` from nothing, asking for exactly the spectrogram PNGs."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    targets = [f"results/spectrograms/{f.parent.name}/{f.stem}.png" for f in files]
    overrides = workdir / "bench.yaml"
    overrides.write_text(f"audio_dir: {audio}\n" + (f"featurize: {{batch_size: {batch_size}}}\n" if batch_size else ""))
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", "--quiet", "all", "--configfile", str(overrides), "--", *targets]
    return run_timed(cmd, env=LEAN_ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-bench"))
    parser.add_argument("--per-file-jobs", type=int, default=60, help="files for the one-job-per-file variant (0: skip)")
    args = parser.parse_args()
    audio = args.work / "audio"
    files = synthetic_gtzan(audio, args.files)
    results = {}
    results["loop"] = loop(audio, args.work / "loop")
    results["workflow"] = workflow(audio, args.work / "wf", files)
    results["blog"] = loop(audio, args.work / "blog", "blog_method.py")
    results["blog_preset"] = loop(audio, args.work / "blog_preset", "featurize_loop.py", "blog")
    rows = []
    base = results["loop"][0] / args.files
    for name, label in (("loop", "lean loop, 1 process"), ("workflow", "workflow, snakemake --cores 2"), ("blog", "blog's loop (librosa.load + plt.specgram + savefig), 1 process"), ("blog_preset", "blog preset's renderer (same picture, lean I/O), 1 process")):
        wall, rss = results[name]
        per_file = wall / args.files
        rows.append([label, args.files, f"{wall:.1f}", f"{per_file * 1000:.1f}", f"{per_file / base:.2f}", f"{rss:.0f}"])
    if args.per_file_jobs:
        n = max(30, min(args.per_file_jobs, args.files))  # >= 3 tracks per genre, or the split check refuses
        sub = args.work / "audio_sub"
        subset = synthetic_gtzan(sub, n)
        wall, rss = workflow(sub, args.work / "wf1", subset, batch_size=1)
        rows.append(["workflow, one job per file (batch_size 1)", n, f"{wall:.1f}", f"{wall / n * 1000:.1f}", f"{wall / n / base:.2f}", f"{rss:.0f}"])
    print(f"Featurisation of synthetic 30-s clips on {machine()}\n")
    print(table(["method", "files", "wall s", "ms/file", "x loop", "peak RSS MiB"], rows))
    wf_ratio = results["workflow"][0] / results["loop"][0]
    blog_speedup = results["blog"][0] / results["workflow"][0]
    print(f"\nworkflow / loop = {wf_ratio:.2f} (target <= 1.5); blog / workflow = {blog_speedup:.1f}x (target >= 3)")


if __name__ == "__main__":
    main()
