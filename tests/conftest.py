"""Shared test helpers: the library on sys.path, synthetic audio, and running the workflow."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "workflow"))
from genreflow.demo import GTZAN_GENRES  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
GENRES = GTZAN_GENRES


def tone(
    seconds: float, rate: int = 22050, freq: float = 440.0, channels: int = 1, seed: int = 0
) -> np.ndarray:
    """A sine plus a little noise; (frames,) or (frames, channels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.shape[0])
    return (
        mono.astype(np.float32)
        if channels == 1
        else np.repeat(mono[:, None], channels, axis=1).astype(np.float32)
    )


def write_audio(
    path: Path,
    samples: np.ndarray,
    rate: int = 22050,
    subtype: str = "PCM_16",
    fmt: str | None = None,
) -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate, subtype=subtype, format=fmt)
    return path


def make_dataset(
    root: Path, genres: list[str], per_genre: int, seconds: float = 4.0, ext: str = "wav"
) -> list[Path]:
    """A GTZAN-layout folder of distinguishable synthetic clips (one pitch band per genre)."""
    from genreflow.demo import synthesize

    files = []
    for gi, genre in enumerate(genres):
        for i in range(per_genre):
            fmt = "AU" if ext == "au" else "WAV"
            files.append(
                write_audio(
                    root / genre / f"{genre}.{i:05d}.{ext}",
                    synthesize(gi, i, seconds, 22050, 1),
                    fmt=fmt,
                )
            )
    return files


def numbers_in(genre: str, split: str, count: int, start: int = 0) -> list[int]:
    """Track numbers (from ``start``) that the default hash split (70/15/15, seed 1337) puts into ``split``."""
    from genreflow.split import Entry, split_by_hash

    ratios = {"train": 0.7, "val": 0.15, "test": 0.15}
    found, i = [], start
    while len(found) < count:
        track = f"{genre}.{i:05d}"
        if split_by_hash([Entry(track, genre, "")], ratios, 1337)[track] == split:
            found.append(i)
        i += 1
    return found


def run_snakemake(
    workdir: Path, *args: str, timeout: int = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the real workflow with ``workdir`` as working directory, under a hard timeout."""
    cmd = [
        "timeout",
        "-k",
        "10",
        str(timeout),
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout + 30)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


TINY_PRESET = str(REPO / "config/presets/tiny.yaml")


@pytest.fixture(scope="session")
def tiny_demo_run(tmp_path_factory, worker_id) -> Path:
    """One full run of the demo DAG with the tiny preset, made once per test session and shared
    by the tests that inspect its outputs. Under pytest-xdist the first worker to ask makes it
    and the others wait for it (a lock in the session's common temporary folder), so it is read
    only: a test that runs the workflow on top of it works on a copy (``copy_of_run``)."""
    if worker_id == "master":  # no xdist: this process is the whole session
        shared = tmp_path_factory.getbasetemp()
    else:  # basetemp is <session>/popen-gwN: its parent is common to the session's workers
        shared = tmp_path_factory.getbasetemp().parent
    root = shared / "tiny_demo"
    with open(shared / "tiny_demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / ".failed").exists():  # another worker's run failed: say so, do not redo it
            pytest.fail((root / ".failed").read_text()[-3000:])
        if not (root / ".made").exists():
            root.mkdir()
            try:
                run_snakemake(root, "--cores", "2", "--configfile", TINY_PRESET, timeout=900)
            except AssertionError as error:
                (root / ".failed").write_text(f"the tiny demo run failed:\n{error}")
                raise
            (root / ".made").touch()
    return root


def copy_of_run(run: Path, dest: Path, *options: str) -> Path:
    """A private copy of a finished run, Snakemake's records included. Modification times are
    kept (copy2), but every copied audio file has a new inode change time, which the audio
    stamps count as a replaced file; ``--touch`` (with the run's target and config, ``options``)
    records the copy as it is, so that targets built on top of it redo nothing the original had
    done."""
    shutil.copytree(run, dest, symlinks=True)
    run_snakemake(dest, "--touch", "--cores", "1", *options, timeout=300)
    planned = run_snakemake(dest, "-n", *options, timeout=300)
    assert "Nothing to be done" in planned.stdout + planned.stderr, planned.stdout[-3000:]
    return dest


def requires_shared_data(sub: str):
    return pytest.mark.skipif(
        not (SHARED_DATA / sub).is_dir(), reason=f"{SHARED_DATA / sub} not present"
    )


__all__ = [
    "REPO",
    "SHARED_DATA",
    "GENRES",
    "tone",
    "write_audio",
    "make_dataset",
    "numbers_in",
    "run_snakemake",
    "copy_of_run",
    "requires_shared_data",
    "shutil",
]
