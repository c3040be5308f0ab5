"""Incremental rebuilds (issues 5 and 18): new audio costs its own blocks' featurisation, every
other block keeps its spectrograms, every existing track keeps its split, removed audio leaves
the split and the model, and only spectrogram parameters rebuild spectrograms.

One module-scoped history shared by the tests: a full run, then clips added (with new track
numbers, so they form new featurisation blocks) and one removed, then a second full run.
Parameter changes are checked with dry runs on top of it.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import numbers_in, run_snakemake, write_audio

from genreflow.demo import synthesize
from genreflow.pngio import read_png

slow = pytest.mark.slow  # the shared history: two runs of the DAG, over a minute on 2 cores

GENRES = ["blues", "jazz", "rock"]
SECONDS = 4.0
CONFIG = {
    "audio_dir": "audio",
    "genres": GENRES,
    "spectrogram": {"kind": "logmel", "duration_s": SECONDS},
    # by track: numbers_in picks tracks by their own hash (and the added tracks would give blues
    # and jazz their third artist, which moves them from by-track to by-artist: README)
    "split": {"group_by": "none"},
    "train": {
        "recipe": "cnn",
        "epochs": 2,
        "batch_size": 8,
        "filters": [4, 8],
        "window_s": 1.0,
        "eval_hop_s": 1.0,
        "windows_per_track": 2,
        "patience": 5,
        "seeds": [42],
        "min_steps_per_epoch": 1,
    },
}
# the first run stops after training (evaluation is the same code either way); the second runs all
FIRST = ("results/model/seed_42/model.keras", "results/qc/tracks.tsv", "results/split/manifest.csv")


def add_clip(audio: Path, genre: str, number: int, seconds: float = SECONDS) -> str:
    write_audio(
        audio / genre / f"{genre}.{number:05d}.wav",
        synthesize(GENRES.index(genre), number, seconds, 22050, 1),
    )
    return f"{genre}.{number:05d}"


def png_stats(root: Path) -> dict[str, tuple[int, int]]:
    """Inode and mtime of every spectrogram: both change if a PNG is rewritten (atomic rename)."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (root / "results/spectrograms").glob("*/*.png")
    }


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def read_tsv(path: Path) -> list[dict[str, str]]:
    return read_csv(path, "\t")


def planned_jobs(output: str) -> dict[str, list[str]]:
    """Rule name -> outputs of every job in a dry run's listing (grouped jobs are indented)."""
    jobs: dict[str, list[str]] = {}
    current, indent = None, 0
    for line in output.splitlines():
        header = re.match(r"^(\s*)(?:local)?rule (\S+):$", line)
        if header:
            indent, name, n = len(header[1]), header[2], 1
            current = name
            while current in jobs:  # rules with wildcards (train, evaluate) run once per seed
                current, n = f"{name}#{n}", n + 1
            jobs[current] = []
        elif (
            current
            and len(line) - len(line.lstrip()) > indent
            and line.strip().startswith("output: ")
        ):
            jobs[current] = line.strip().removeprefix("output: ").split(", ")
        elif current and len(line) - len(line.lstrip()) <= indent:
            current = None
    return jobs


def output(proc) -> str:
    return proc.stdout + proc.stderr  # Snakemake logs the job listing to stderr


def spectrogram_jobs(jobs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Featurisation jobs -> the PNGs they declare."""
    pngs = lambda outs: [
        o.removesuffix(" (update)") for o in outs if o.removesuffix(" (update)").endswith(".png")
    ]
    return {
        name: pngs(outs)
        for name, outs in jobs.items()
        if name.startswith("spectrograms_") and not name.endswith(("_audio", "_index"))
    }


@dataclass
class History:
    root: Path
    first: dict[str, tuple[int, int]]  # PNG stats after the first run
    second: dict[str, tuple[int, int]]  # ... after the second
    manifest_first: dict[str, str]
    manifest_second: dict[str, str]
    added: list[str]
    removed: str
    short: list[str]  # clips shorter than one training window
    dry_default: str  # dry run after adding
    second_run: str
    model_first: os.stat_result


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    root = tmp_path_factory.mktemp("incremental")
    audio = root / "audio"
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    short = []
    for genre in GENRES:
        for n in (
            numbers_in(genre, "train", 3)
            + numbers_in(genre, "val", 1)
            + numbers_in(genre, "test", 1)
        ):
            add_clip(audio, genre, n)
    # shorter than one 1-s training window: padded, noted, and still trained on / evaluated
    short.append(add_clip(audio, "rock", numbers_in("rock", "train", 1, start=200)[0], seconds=0.4))
    short.append(add_clip(audio, "rock", numbers_in("rock", "test", 1, start=200)[0], seconds=0.4))

    run_snakemake(root, *FIRST, "--cores", "2", "--configfile", str(cfg), timeout=600)
    first = png_stats(root)
    manifest_first = {r["track"]: r["split"] for r in read_csv(root / "results/split/manifest.csv")}
    model_first = (root / FIRST[0]).stat()

    removed_number = numbers_in("blues", "train", 1)[0]
    removed = f"blues.{removed_number:05d}"
    (audio / "blues" / f"{removed}.wav").unlink()
    added = [
        add_clip(audio, "blues", numbers_in("blues", "train", 1, start=100)[0]),
        add_clip(audio, "jazz", numbers_in("jazz", "test", 1, start=100)[0]),
        add_clip(audio, "rock", numbers_in("rock", "val", 1, start=100)[0]),
    ]
    dry_default = run_snakemake(root, "-n", "--cores", "2", "--configfile", str(cfg), timeout=120)
    shutil.rmtree(root / "results/logs/spectrograms")  # so the logs left are the second run's
    second_run = run_snakemake(root, "--cores", "2", "--configfile", str(cfg), timeout=600)
    return History(
        root,
        first,
        png_stats(root),
        manifest_first,
        {r["track"]: r["split"] for r in read_csv(root / "results/split/manifest.csv")},
        added,
        removed,
        short,
        output(dry_default),
        output(second_run),
        model_first,
    )


@slow
def test_a_rerun_does_nothing(history):
    assert len(history.first) == 17
    proc = run_snakemake(
        history.root,
        "-n",
        "--cores",
        "2",
        "--configfile",
        str(history.root / "config.yaml"),
        timeout=120,
    )
    assert "Nothing to be done" in output(proc)


@slow
def test_new_track_numbers_plan_only_their_own_block_then_split_train_evaluate(history):
    jobs = planned_jobs(history.dry_default)
    new_blocks = {
        n: outs for n, outs in spectrogram_jobs(jobs).items() if n != "spectrograms_00000"
    }
    featurised = sorted(out for outs in new_blocks.values() for out in outs)
    assert featurised == sorted(
        f"results/spectrograms/{t.split('.')[0]}/{t}.png" for t in history.added
    )
    assert set(new_blocks) == {"spectrograms_00100"}, (
        "tracks 00100-00149 of every genre share a job"
    )
    # the block that lost a track runs again (its input set changed) but rewrites nothing
    assert "spectrograms_00000" in spectrogram_jobs(jobs)
    for rule in ("qc", "split", "train", "evaluate", "summarize"):
        assert rule in jobs, f"{rule} should run again after audio was added"


@slow
def test_only_the_new_blocks_and_the_block_that_lost_a_track_were_featurised(history):
    new = {f"results/spectrograms/{t.split('.')[0]}/{t}.png" for t in history.added}
    assert set(history.second) == set(history.first) | new
    block_0 = {p for p in history.first if int(p.rsplit(".", 2)[-2]) < 50} - {
        f"results/spectrograms/blues/{history.removed}.png"
    }
    # same inode: never rewritten (the short clips' block, 00200)
    untouched = set(history.first) - block_0 - {f"results/spectrograms/blues/{history.removed}.png"}
    assert untouched and all(history.second[p] == history.first[p] for p in untouched)
    assert all(history.second[p][0] != history.first[p][0] for p in block_0), (
        "the block that lost a track is made again, whole"
    )
    logs = sorted((history.root / "results/logs/spectrograms").glob("*.log"))
    lines = [line for log in logs for line in log.read_text().splitlines() if "featurised " in line]
    assert sorted(re.search(r"-> (\S+\.png)", line)[1] for line in lines) == sorted(new | block_0)


@slow
def test_existing_tracks_keep_their_split(history):
    kept = set(history.manifest_first) - {history.removed}
    assert kept < set(history.manifest_second)
    assert {t: history.manifest_second[t] for t in kept} == {
        t: history.manifest_first[t] for t in kept
    }
    assert set(history.manifest_second) == kept | set(history.added)


@slow
def test_removed_file_leaves_split_and_model(history):
    assert (
        history.removed in history.manifest_first and history.removed not in history.manifest_second
    )
    tracks = {r["track"] for r in read_tsv(history.root / "results/qc/tracks.tsv")}
    assert history.removed not in tracks and set(history.added) <= tracks
    # the model was trained again, on exactly the new training set
    model = (history.root / FIRST[0]).stat()
    assert model.st_mtime_ns > history.model_first.st_mtime_ns
    train_log = (history.root / "results/logs/train/seed_42.log").read_text()
    n_train = sum(split == "train" for split in history.manifest_second.values())
    assert re.search(rf"training \S+ on {n_train} tracks", train_log), train_log[-2000:]
    predicted = {
        r["track"]
        for split in ("val", "test")
        for r in read_csv(history.root / f"results/predictions/{split}.csv")
    }
    assert predicted == {t for t, s in history.manifest_second.items() if s in ("val", "test")}


@slow
def test_short_clips_are_padded_noted_trained_and_evaluated(history):
    rows = {r["track"]: r for r in read_tsv(history.root / "results/qc/tracks.tsv")}
    for track in history.short:
        assert "padded" in rows[track]["notes"]
        image = read_png(history.root / rows[track]["spectrogram"])
        assert (
            image.shape[1] == 1 + int(SECONDS * 22050) // 512
            and image[:, :10].any()
            and not image[:, 40:].any()
        )
    assert history.manifest_second[history.short[0]] == "train"
    test_rows = {r["track"]: r for r in read_csv(history.root / "results/predictions/test.csv")}
    probs = [float(v) for k, v in test_rows[history.short[1]].items() if k.startswith("p_")]
    assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-3


@slow
def test_spectrogram_parameter_change_rebuilds_every_spectrogram(history):
    change = history.root / "n_mels.yaml"
    change.write_text("spectrogram: {n_mels: 64}\n")
    proc = run_snakemake(
        history.root,
        "-n",
        "--cores",
        "2",
        "--configfile",
        str(history.root / "config.yaml"),
        str(change),
        timeout=120,
    )
    jobs = planned_jobs(output(proc))
    featurised = sorted(out for outs in spectrogram_jobs(jobs).values() for out in outs)
    assert featurised == sorted(
        f"results/spectrograms/{t.split('.')[0]}/{t}.png" for t in history.manifest_second
    )
    assert {"split", "train", "evaluate"} <= set(jobs)


@slow
def test_training_parameter_change_does_not_touch_spectrograms(history):
    change = history.root / "epochs.yaml"
    change.write_text("train: {epochs: 3}\n")
    proc = run_snakemake(
        history.root,
        "-n",
        "--cores",
        "2",
        "--configfile",
        str(history.root / "config.yaml"),
        str(change),
        timeout=120,
    )
    jobs = planned_jobs(output(proc))
    assert spectrogram_jobs(jobs) == {}
    assert {"train", "evaluate", "summarize"} <= set(jobs) and "split" not in jobs
