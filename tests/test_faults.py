"""kill -9 of a run (issue 5): during featurisation no partial PNG survives and finished block
jobs are not redone (an interrupted one makes its whole block again); during training the
re-run resumes at the last finished epoch.

Snakemake runs in its own process group so that SIGKILL reaches it and every job at once, as a
power loss or an OOM kill of the session would. A killed Snakemake leaves its lock behind: the
user runs ``snakemake --unlock`` once, then the same command again (rerun-incomplete is in the
profile). Both steps are part of the test.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, numbers_in, run_snakemake, write_audio

from genreflow.blocks import read_records
from genreflow.demo import synthesize
from genreflow.pngio import read_png

GENRES = ["blues", "jazz", "rock"]
SECONDS = 4.0
PER_SPLIT = {"train": 8, "val": 2, "test": 2}  # 12 tracks a genre
N_TRACKS = len(GENRES) * sum(PER_SPLIT.values())
EPOCHS = 12
CONFIG = {
    "audio_dir": "audio",
    "genres": GENRES,
    "spectrogram": {"kind": "logmel", "duration_s": SECONDS},
    "featurize": {"block_size": 8},  # several jobs: some finish, one is killed half-way
    "train": {
        "recipe": "cnn",
        "epochs": EPOCHS,
        "patience": EPOCHS,
        "batch_size": 8,
        "filters": [4, 8],
        "window_s": 1.0,
        "eval_hop_s": 1.0,
        "windows_per_track": 2,
        "seeds": [42],
        "min_steps_per_epoch": 1,
    },
}
MODEL = "results/model/seed_42/model.keras"


def start(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake in a new session (own process group), output to a file."""
    cmd = [
        "timeout",
        "-k",
        "5",
        "300",
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = open(workdir / "killed_run.txt", "w")  # noqa: SIM115 (the killed run writes to it)
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def kill_when(proc: subprocess.Popen, condition, timeout: float = 240) -> None:
    """SIGKILL the whole process group as soon as ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the run never reached the point to interrupt"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def pngs(root: Path) -> list[Path]:
    return sorted((root / "results/spectrograms").glob("*/*.png"))


def stats(paths: list[Path]) -> dict[Path, tuple[int, bytes]]:
    """Inode and content: a rewrite (write, then rename) changes the inode; Snakemake touches
    the outputs of the job that ran again, so the mtime says nothing here."""
    return {p: (p.stat().st_ino, p.read_bytes()) for p in paths}


def epochs_logged(log_text: str) -> list[int]:
    return [int(n) for n in re.findall(r"genreflow\.fitting: epoch (\d+):", log_text)]


def unlock_and_rerun(root: Path, cfg: Path, *targets: str) -> str:
    """What the user does after a kill: the plain re-run is refused because of the stale lock."""
    refused = run_snakemake(
        root, *targets, "--cores", "2", "--configfile", str(cfg), check=False, timeout=120
    )
    assert refused.returncode != 0 and "--unlock" in refused.stdout + refused.stderr
    run_snakemake(root, "--unlock", "--cores", "1", "--configfile", str(cfg), timeout=120)
    rerun = run_snakemake(root, *targets, "--cores", "2", "--configfile", str(cfg), timeout=300)
    return rerun.stdout + rerun.stderr


@dataclass
class FeaturizeKill:
    root: Path
    cfg: Path
    before: dict[Path, tuple[int, bytes]]  # PNGs of the blocks that had finished at the kill
    rerun: str


@pytest.fixture(scope="module")
def featurize_kill(tmp_path_factory) -> FeaturizeKill:
    root = tmp_path_factory.mktemp("faults")
    for gi, genre in enumerate(GENRES):
        for split, count in PER_SPLIT.items():
            for n in numbers_in(genre, split, count):
                write_audio(
                    root / "audio" / genre / f"{genre}.{n:05d}.wav",
                    synthesize(gi, n, SECONDS, 22050, 1),
                )
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    proc = start(root, "results/split/manifest.csv", "--cores", "2", "--configfile", str(cfg))
    log = root / "killed_run.txt"

    def finished_blocks() -> list[str]:  # jobs Snakemake has recorded as finished
        return re.findall(r"Finished jobid: \d+ \(Rule: spectrograms_(\d{5})\)", log.read_text())

    kill_when(proc, lambda: len(finished_blocks()) >= 1)
    present = pngs(root)
    assert len(present) < N_TRACKS, (
        "featurisation finished before the kill; the test proves nothing"
    )
    for png in present:  # every PNG that exists after a kill is complete
        assert read_png(png).shape == (128, 1 + int(SECONDS * 22050) // 512), png
    tables = [root / f"results/spectrograms/index/{b}.tsv" for b in finished_blocks()]
    finished = [root / r["png"] for t in tables for r in read_records(t)]
    before = stats(finished)
    rerun = unlock_and_rerun(root, cfg, "results/split/manifest.csv")
    return FeaturizeKill(root, cfg, before, rerun)


def test_featurisation_completes_after_kill(featurize_kill):
    after = pngs(featurize_kill.root)
    assert len(after) == N_TRACKS
    for png in after:
        assert read_png(png).shape == (128, 1 + int(SECONDS * 22050) // 512), png
    with open(featurize_kill.root / "results/split/manifest.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == N_TRACKS


def test_no_partial_or_stray_file_survives(featurize_kill):
    root = featurize_kill.root / "results/spectrograms"
    files = [
        p for p in root.rglob("*") if p.is_file() and (p.suffix == ".png" or p.name.startswith("."))
    ]
    assert sorted(files) == pngs(featurize_kill.root), "leftover temporary or partial files"


def test_finished_blocks_are_not_redone(featurize_kill):
    assert featurize_kill.before, "no block had finished at the kill"
    assert stats(list(featurize_kill.before)) == featurize_kill.before, "same inodes and bytes"


@dataclass
class TrainingKill:
    killed_log: str
    rerun_log: str
    history: list[dict[str, str]]


@pytest.fixture(scope="module")
def training_kill(featurize_kill) -> TrainingKill:
    root, cfg = featurize_kill.root, featurize_kill.cfg
    train_log = root / "results/logs/train/seed_42.log"
    backup = root / "results/model/.backup/seed_42"
    proc = start(root, MODEL, "--cores", "2", "--configfile", str(cfg))
    # two finished epochs logged; BackupAndRestore (first callback) has saved by then
    kill_when(proc, lambda: train_log.exists() and len(epochs_logged(train_log.read_text())) >= 2)
    killed_log = train_log.read_text()  # Snakemake deletes a job's log before running it again
    assert not (root / MODEL).exists(), "training finished before the kill; the test proves nothing"
    assert backup.is_dir()
    unlock_and_rerun(root, cfg, MODEL)
    with open(root / "results/model/seed_42/history.csv", newline="") as fh:
        history = list(csv.DictReader(fh))
    return TrainingKill(killed_log, train_log.read_text(), history)


@pytest.mark.slow
def test_training_resumes_at_the_last_finished_epoch(training_kill):
    killed = epochs_logged(training_kill.killed_log)
    assert killed[0] == 1 and len(killed) >= 2
    rerun = training_kill.rerun_log
    finished = int(re.search(r"resuming after (\d+) finished epoch", rerun)[1])
    # the kill may land after an epoch's backup but before its log line: then one more is finished
    assert len(killed) <= finished <= len(killed) + 1, (killed, finished)
    # the log keeps every epoch once, in order: the earlier ones logged again, then the rest
    assert epochs_logged(rerun) == list(range(1, EPOCHS + 1))
    line = lambda text, n: re.search(rf"genreflow\.fitting: (epoch {n}: .*)", text)[1]
    assert [line(rerun, n) for n in killed] == [line(training_kill.killed_log, n) for n in killed]


@pytest.mark.slow
def test_history_continues_instead_of_restarting(training_kill):
    epochs = [int(row["epoch"]) for row in training_kill.history]
    assert epochs[0] == 0 and epochs[-1] == EPOCHS - 1
    assert all(b > a for a, b in zip(epochs, epochs[1:])), f"epochs restarted or repeated: {epochs}"
