"""Shared helpers for the benchmark scripts: synthetic datasets, timing, peak memory, tables."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from genreflow.demo import GTZAN_GENRES  # noqa: E402

GENRES = GTZAN_GENRES
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def synthetic_gtzan(
    root: Path, n_files: int, seconds: float = 30.0, rate: int = 22050
) -> list[Path]:
    """``n_files`` demo clips spread over the ten genres, written once and reused."""
    from genreflow.demo import synthesize, write_wav_atomic

    files = []
    for i in range(n_files):
        genre_index, track = i % len(GENRES), i // len(GENRES)
        genre = GENRES[genre_index]
        path = root / genre / f"{genre}.{track:05d}.wav"
        if not path.exists():
            write_wav_atomic(path, synthesize(genre_index, track, seconds, rate, seed=1), rate)
        files.append(path)
    return files


# Runs a command and reports the peak RSS of its whole process tree: a fresh wrapper process
# sees only this command's descendants in RUSAGE_CHILDREN (Linux merges waited-for
# grandchildren's peaks into it).
_PEAK_WRAPPER = (
    "import resource, subprocess, sys;"
    "rc = subprocess.run(sys.argv[1:]).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
    "sys.exit(rc)"
)


def workflow_command(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> list[str]:
    """``snakemake`` on the workflow (or another Snakefile) with ``workdir`` as working
    directory and the two cores of the machines these benchmarks are written for."""
    return [
        SNAKEMAKE,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]


def run_timed(
    cmd: list[str], cwd: Path | None = None, env: dict | None = None
) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, largest single process of the command's tree)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, *cmd],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kib / 1024


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def epoch_timer():
    """A Keras callback that records, per epoch, the seconds of its training steps (up to the
    validation pass) and of the whole epoch. Keras is imported here, after the caller chose
    its backend."""
    import keras

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.train_s: list[float] = []
            self.epoch_s: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()

        def on_test_begin(self, logs=None):
            self.train_s.append(time.perf_counter() - self.begin)

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_s.append(time.perf_counter() - self.begin)

    return EpochTimes()


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """The hidden options with which a benchmark runs one of its variants in a subprocess."""
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in names:
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
