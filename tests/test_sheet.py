"""Any collection as input (issue 11): a sample sheet (path, genre, optional split) over files of
any name in nested folders, validated with snakemake.utils.validate, genres taken from the sheet,
a split column that replaces split.method."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake, write_audio

from genreflow.demo import synthesize
from genreflow.tables import read_manifest, read_table

GENRES = ["Hip-Hop", "Électronique", "Rock & Roll"]
ODD = [
    "a b/c d/song one.wav",
    "日本/曲 – 1.flac",
    "quotes/'single' \"double\".wav",
    "braces/{x} and {y}.wav",
    "shell/$(touch pwned); `x`.wav",
    "comma, semi; colon: .wav",
]


def make_files(root: Path) -> list[dict[str, str]]:
    """Four clips per genre under odd names; the split follows a published-list style column."""
    rows = []
    for gi, genre in enumerate(GENRES):
        for i in range(4):
            name = ODD[(gi * 4 + i) % len(ODD)]
            path = root / "music" / genre / f"n{i} {name}"
            fmt = "FLAC" if name.endswith(".flac") else "WAV"
            write_audio(path, synthesize(gi, i, 2.0, 22050, 1), fmt=fmt)
            rows.append(
                {
                    "path": str(path.relative_to(root)),
                    "genre": genre,
                    "split": ["train", "train", "val", "test"][i],
                }
            )
    return rows


def write_sheet(root: Path, rows: list[dict[str, str]], name: str = "tracks.tsv") -> Path:
    sheet = root / name
    sheet.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(sheet, sep="\t", index=False)
    return sheet


def config(root: Path, sheet: Path, **extra) -> Path:
    cfg = root / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "tracks": str(sheet),
                "genres": [],
                "spectrogram": {"kind": "logmel", "duration_s": 2.0},
                "train": {
                    "recipe": "cnn",
                    "window_s": 1.0,
                    "eval_hop_s": 1.0,
                    "filters": [4],
                    "epochs": 1,
                    "min_steps_per_epoch": 1,
                },
                **extra,
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return cfg


@pytest.fixture(scope="module")
def sheet_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sheet")
    rows = make_files(root)
    # (a file listed twice is refused at start-up: tests/test_startup_refusals.py)
    missing = {"path": "../music/gone.wav", "genre": "Rock & Roll", "split": "train"}
    sheet = write_sheet(
        root / "lists",
        [{**r, "path": os.path.join("..", r["path"])} for r in rows] + [missing],
    )
    (root / "work").mkdir()
    cfg = config(root, sheet)
    proc = run_snakemake(
        root / "work",
        "results/split/manifest.csv",
        "results/qc/rejected.tsv",
        "results/qc/ignored.tsv",
        "--cores",
        "2",
        "--configfile",
        str(cfg),
        timeout=600,
    )
    return root, rows, proc


def test_every_listed_file_is_featurised_whatever_its_name(sheet_run):
    root, rows, _ = sheet_run
    manifest = read_manifest(root / "work/results/split/manifest.csv")
    assert len(manifest) == len(rows)
    for row in manifest:
        png = root / "work" / row["spectrogram"]
        assert png.is_file() and png.parent.name == row["genre"]
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in png.stem), (
            "spectrograms get safe names"
        )
    assert not (root / "work/pwned").exists() and not (root / "pwned").exists()


def test_the_split_column_decides_the_split(sheet_run):
    root, rows, _ = sheet_run
    from genreflow.blocks import safe_id

    expected = {safe_id(os.path.join("..", r["path"])): r["split"] for r in rows}
    assert {
        r["track"]: r["split"] for r in read_manifest(root / "work/results/split/manifest.csv")
    } == expected
    assert "the sample sheet's split column" in (root / "work/results/logs/split.log").read_text()


def test_genres_come_from_the_sheet_and_missing_files_are_reported(sheet_run):
    root, *_ = sheet_run
    summary = read_table(root / "work/results/split/summary.tsv")
    # the split column decided the split: the last row is each part's share, no asked ratios
    assert list(summary["genre"]) == sorted(GENRES) + ["total", "share"]
    rejected = read_table(root / "work/results/qc/rejected.tsv")
    assert list(rejected["reason"]) == ["no such file (sheet row 14)"]
    assert rejected["path"][0].endswith("music/gone.wav")
    assert read_table(root / "work/results/qc/ignored.tsv").empty


def test_a_row_the_schema_refuses_stops_the_start_up_naming_it(tmp_path):
    write_audio(tmp_path / "a.wav", synthesize(0, 0, 1.0, 22050, 1))
    sheet = write_sheet(tmp_path, [{"path": "a.wav", "genre": "rock", "split": "training"}])
    proc = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(config(tmp_path, sheet)),
        check=False,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "'training' is not one of ['train', 'val', 'test']" in out
    sheet = write_sheet(tmp_path, [{"path": "a.wav", "genre": "../up"}])
    out = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(config(tmp_path, sheet)),
        check=False,
        timeout=120,
    )
    assert out.returncode != 0 and "'../up' does not match" in out.stdout + out.stderr
    out = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(config(tmp_path, tmp_path / "none.tsv")),
        check=False,
        timeout=120,
    )
    assert (
        out.returncode != 0
        and "Invalid configuration: tracks: cannot read the sheet" in out.stdout + out.stderr
    )


def test_without_a_split_column_the_split_method_applies_and_genres_may_be_listed(tmp_path):
    rows = make_files(tmp_path)
    sheet = write_sheet(tmp_path, [{"path": r["path"], "genre": r["genre"]} for r in rows])
    cfg = config(
        tmp_path,
        sheet,
        genres=GENRES[:2],
        split={"method": "ratio", "ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    )
    run_snakemake(
        tmp_path,
        "results/split/manifest.csv",
        "results/qc/ignored.tsv",
        "--cores",
        "2",
        "--configfile",
        str(cfg),
        timeout=600,
    )
    manifest = read_manifest(tmp_path / "results/split/manifest.csv")
    assert {r["genre"] for r in manifest} == set(GENRES[:2]) and len(manifest) == 8
    assert sorted(r["split"] for r in manifest) == ["test"] * 2 + ["train"] * 4 + ["val"] * 2
    ignored = read_table(tmp_path / "results/qc/ignored.tsv")
    assert len(ignored) == 4 and set(
        ignored["reason"].str.replace(r" \(sheet row \d+\)", "", regex=True)
    ) == {"genre 'Rock & Roll' is not in genres"}
