"""The whole DAG on tiny demo data, and the lint/format gates."""

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import GENRES, REPO, SNAKEMAKE, TINY_PRESET, run_snakemake

from genreflow.pngio import read_png, read_png_text

TINY = TINY_PRESET  # conftest: the preset the shared tiny demo run uses


def test_spectrograms_have_the_configured_shape(tiny_demo_run):
    pngs = sorted((tiny_demo_run / "results/spectrograms").glob("*/*.png"))
    assert len(pngs) == 80
    for png in pngs:
        image = read_png(png)
        assert image.shape == (128, 1 + int(8.0 * 22050) // 512) and image.dtype == np.uint8
        assert read_png_text(png)["genreflow:params"]
    assert not list((tiny_demo_run / "results/spectrograms").rglob(".*.tmp"))


def test_manifest_and_link_tree(tiny_demo_run):
    with open(tiny_demo_run / "results/split/manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["track", "genre", "split", "spectrogram", "sha256"]
    assert len(rows) == len({r["track"] for r in rows}) == 80
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert {r["genre"] for r in rows if r["split"] == "train"} == set(GENRES)
    for row in rows:
        link = tiny_demo_run / "results/split" / row["split"] / row["genre"] / f"{row['track']}.png"
        assert (
            link.is_symlink() and link.resolve() == (tiny_demo_run / row["spectrogram"]).resolve()
        )


def test_model_loads_and_predicts_a_window(tiny_demo_run):
    import keras

    model = keras.models.load_model(tiny_demo_run / "results/model/model.keras")
    probs = model.predict(np.zeros((1, 128, 129, 1), dtype=np.float32), verbose=0)
    assert probs.shape == (1, 10) and abs(float(probs.sum()) - 1) < 1e-4
    history = (tiny_demo_run / "results/model/history.csv").read_text().splitlines()
    assert history[0].split(",")[:2] == ["epoch", "accuracy"] and len(history) > 2
    assert read_png(tiny_demo_run / "results/model/training_curves.png").ndim == 3


def test_metrics_have_every_key_and_beat_chance(tiny_demo_run):
    metrics = json.loads((tiny_demo_run / "results/metrics/metrics.json").read_text())
    for key in (
        "loss",
        "accuracy",
        "window_accuracy",
        "track_accuracy",
        "macro_f1",
        "per_class",
        "splits",
        "headline_split",
    ):
        assert key in metrics, key
    assert set(metrics["per_class"]) == set(GENRES)
    assert set(metrics["per_class"]["jazz"]) == {"precision", "recall", "f1", "support"}
    assert metrics["headline_split"] == "test"
    assert metrics["track_accuracy"] > 0.3, "10 classes: chance is 0.1"
    assert 0 <= metrics["window_accuracy"] <= 1 and metrics["loss"] > 0
    assert read_png(tiny_demo_run / "results/metrics/confusion_matrix.png").ndim == 3


@pytest.mark.parametrize("split", ["val", "test"])
def test_prediction_csvs(tiny_demo_run, split):
    with open(tiny_demo_run / f"results/predictions/{split}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "file",
        "track",
        "true_genre",
        "predicted_genre",
        *[f"p_{g}" for g in GENRES],
    ]
    for row in rows:
        probs = np.array([float(row[f"p_{g}"]) for g in GENRES])
        assert abs(probs.sum() - 1) < 1e-3 and row["predicted_genre"] == GENRES[int(probs.argmax())]


def test_qc_tables_exist_and_list_nothing_for_clean_demo_data(tiny_demo_run):
    rejected = (tiny_demo_run / "results/qc/rejected.tsv").read_text().splitlines()
    assert rejected == ["path\tgenre\ttrack_id\treason"]
    tracks = (tiny_demo_run / "results/qc/tracks.tsv").read_text().splitlines()
    assert len(tracks) == 81


def test_second_run_has_nothing_to_do(tiny_demo_run):
    proc = run_snakemake(tiny_demo_run, "-n", "--cores", "2", "--configfile", TINY)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_blog_preset_runs_end_to_end(tmp_path):
    small = tmp_path / "small.yaml"
    small.write_text(
        "demo: {tracks_per_genre: 5, duration_s: 6.0}\ntrain: {recipe: blog, epochs: 3}\n"
    )
    run_snakemake(
        tmp_path,
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/presets/blog.yaml"),
        str(small),
        timeout=600,
    )
    png = read_png(next((tmp_path / "results/spectrograms/blues").glob("*.png")))
    assert png.shape == (800, 800, 3)  # the blog's 8x8-inch figure
    rows = (tmp_path / "results/split/manifest.csv").read_text().splitlines()[1:]
    assert (
        sum(",train," in r for r in rows) == 40 and sum(",val," in r for r in rows) == 10
    )  # 80/20 per genre
    metrics = json.loads((tmp_path / "results/metrics/metrics.json").read_text())
    assert (
        metrics["recipe"] == "blog"
        and metrics["headline_split"] is None
        and metrics["track_accuracy"] is None
    )
    assert not (tmp_path / "results/predictions/test.csv").exists()


def lint_case(name: str, tmp_path: Path) -> list[str]:
    """Command-line options that give the DAG of one configuration to lint."""
    if name.startswith("preset:"):
        return ["--configfile", str(REPO / f"config/presets/{name.removeprefix('preset:')}.yaml")]
    if name == "predict":
        from conftest import tone, write_audio

        write_audio(tmp_path / "new" / "clip one.wav", tone(1.0))
        return ["--config", f"predict={{audio_dir: {tmp_path / 'new'}}}"]
    if name == "download":  # planned before the archive is there: its rules are in the DAG
        return [
            "--config",
            f"audio_dir={tmp_path / 'gtzan'}",
            "download={url: file:///nowhere/genres.tar.gz, sha256: " + "a" * 64 + "}",
        ]
    return []


LINT_CASES = [
    "default",
    *(f"preset:{p.stem}" for p in sorted((REPO / "config/presets").glob("*.yaml"))),
    "predict",
    "download",
]


@pytest.mark.parametrize("case", LINT_CASES)
def test_snakemake_lint_is_clean(tmp_path, case):
    """Every preset (compare.yaml: the experiments' rules), the predict target and a pending
    download each bring rules of their own into the DAG: lint them all."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    proc = subprocess.run(
        [
            "timeout",
            "300",
            SNAKEMAKE,
            "--lint",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            *lint_case(case, tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_snakefmt_check_is_clean():
    snakefmt = str(Path(SNAKEMAKE).with_name("snakefmt"))
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "workflow/rules").glob("*.smk")))]
    proc = subprocess.run([snakefmt, "--check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    ruff = str(Path(SNAKEMAKE).with_name("ruff"))
    proc = subprocess.run([ruff, *command, str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_fault_filtered_split_follows_the_published_lists(tmp_path):
    from conftest import write_audio

    from genreflow.demo import synthesize

    lists = {
        s: (REPO / f"config/splits/{f}_filtered.txt").read_text().split()
        for s, f in (("train", "train"), ("val", "valid"), ("test", "test"))
    }
    genres = ["blues", "jazz", "rock"]
    chosen = {}
    for split, entries in lists.items():
        for genre in genres:
            for entry in [e for e in entries if e.startswith(f"{genre}/")][
                : 2 if split == "train" else 1
            ]:
                chosen[Path(entry).stem] = split
    listed = {Path(e).stem for entries in lists.values() for e in entries}
    unlisted = next(
        f"{g}.{i:05d}" for g in genres for i in range(100) if f"{g}.{i:05d}" not in listed
    )
    for track in [*chosen, unlisted]:
        genre, number = track.split(".")
        write_audio(
            tmp_path / "audio" / genre / f"{track}.wav",
            synthesize(genres.index(genre), int(number), 4.0, 22050, 1),
        )
    (tmp_path / "ff.yaml").write_text(
        "audio_dir: audio\ngenres: [blues, jazz, rock]\nspectrogram: {duration_s: 4.0}\n"
        "split: {method: fault_filtered}\n"
    )
    target = "results/split/manifest.csv"  # the split is what this test is about
    run_snakemake(tmp_path, target, "--cores", "2", "--configfile", str(tmp_path / "ff.yaml"))
    with open(tmp_path / target, newline="") as fh:
        manifest = {r["track"]: r["split"] for r in csv.DictReader(fh)}
    assert (
        manifest == chosen
    )  # the unlisted track is left out, every other keeps its published split
    assert "not in the published lists" in (tmp_path / "results/logs/split.log").read_text()
