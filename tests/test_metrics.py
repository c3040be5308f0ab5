"""Scores against scikit-learn, track aggregation by hand, and the mean +- std over seeds."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from genreflow import metrics
from genreflow.summary import summarize

sk = pytest.importorskip("sklearn.metrics")
NAMES = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("case", range(6))
def test_scores_match_scikit_learn(case):
    rng = np.random.default_rng(case)
    y_true = rng.integers(0, 4, 40)  # class "e" (4) never occurs in the truth ...
    y_pred = np.where(
        rng.uniform(size=40) < 0.6, y_true, rng.integers(0, 5, 40)
    )  # ... but may be predicted
    if case == 0:
        y_pred[:3] = 4  # make sure it is predicted at least once
    cm = metrics.confusion_matrix(y_true, y_pred, 5)
    np.testing.assert_array_equal(cm, sk.confusion_matrix(y_true, y_pred, labels=range(5)))
    per_class = metrics.per_class_scores(cm, NAMES)
    p, r, f, s = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=range(5), zero_division=0
    )
    for i, name in enumerate(NAMES):
        assert per_class[name]["precision"] == pytest.approx(p[i])
        assert per_class[name]["recall"] == pytest.approx(r[i])
        assert per_class[name]["f1"] == pytest.approx(f[i])
        assert per_class[name]["support"] == s[i]
    assert metrics.macro_f1(cm) == pytest.approx(
        sk.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )


def test_macro_f1_ignores_classes_absent_from_truth_and_predictions():
    y = np.array([0, 0, 1, 1])
    cm = metrics.confusion_matrix(y, np.array([0, 1, 1, 1]), 5)
    assert metrics.macro_f1(cm) == pytest.approx(sk.f1_score(y, [0, 1, 1, 1], average="macro"))
    assert metrics.macro_f1(np.zeros((3, 3), dtype=int)) == 0.0


def test_track_probability_is_the_mean_of_its_windows_not_a_vote():
    windows = [
        np.array([[0.9, 0.1], [0.4, 0.6], [0.4, 0.6]]),  # vote says class 1, mean says class 0
        np.array([[0.2, 0.8]]),
    ]
    tracks = metrics.track_probabilities(windows)
    np.testing.assert_allclose(tracks, [[1.7 / 3, 1.3 / 3], [0.2, 0.8]])
    scores = metrics.score(windows, np.array([0, 1]), ["x", "y"])
    assert scores["track_accuracy"] == 1.0
    assert scores["window_accuracy"] == pytest.approx(2 / 4)  # windows 1 and 4 are right
    assert scores["n_windows"] == 4 and scores["n_tracks"] == 2
    assert scores["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.8])))
    assert scores["confusion_matrix"] == [[1, 0], [0, 1]]
    assert scores["macro_f1"] == 1.0


def test_score_of_a_wrong_track():
    scores = metrics.score([np.array([[0.3, 0.7], [0.6, 0.4]])], np.array([0]), ["x", "y"])
    assert scores["track_accuracy"] == 0.0 and scores["window_accuracy"] == 0.5
    assert scores["per_class"]["x"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_mean_std_uses_the_sample_standard_deviation():
    assert metrics.mean_std([0.6, 0.8]) == {
        "mean": pytest.approx(0.7),
        "std": pytest.approx(np.std([0.6, 0.8], ddof=1)),
        "n": 2,
    }
    assert metrics.mean_std([0.5]) == {"mean": 0.5, "std": 0.0, "n": 1}


def write_predictions(
    path: Path, probs: list[list[float]], truth: list[str], genres: list[str]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "track", "true_genre", "predicted_genre", *[f"p_{g}" for g in genres]])
        for i, (p, t) in enumerate(zip(probs, truth)):
            w.writerow([f"t{i}.png", f"t{i}", t, genres[int(np.argmax(p))], *p])


def test_summary_reports_mean_and_std_over_seeds_and_an_ensemble(tmp_path):
    genres = ["x", "y"]
    truth = ["x", "y", "y"]
    per_seed = {
        1: (
            {"loss": 0.5, "window_accuracy": 0.6, "track_accuracy": 2 / 3, "macro_f1": 0.6},
            [[0.8, 0.2], [0.6, 0.4], [0.1, 0.9]],
        ),
        2: (
            {"loss": 0.7, "window_accuracy": 0.8, "track_accuracy": 1.0, "macro_f1": 1.0},
            [[0.7, 0.3], [0.3, 0.7], [0.2, 0.8]],
        ),
    }
    metric_files, prediction_files = [], []
    for seed, (scores, probs) in per_seed.items():
        m = tmp_path / f"seed_{seed}/metrics.json"
        m.parent.mkdir()
        m.write_text(json.dumps({"seed": seed, "splits": {"test": scores}}))
        p = tmp_path / f"seed_{seed}/test.csv"
        write_predictions(p, probs, truth, genres)
        metric_files.append(str(m))
        prediction_files.append(str(p))
    primary = {}
    for key, name in (
        ("model", "model.keras"),
        ("history", "history.csv"),
        ("curves", "curves.png"),
    ):
        primary[key] = str(tmp_path / name)
        Path(primary[key]).write_text(key)
    out = tmp_path / "out"
    outputs = {
        "metrics": str(out / "metrics.json"),
        "confusion": str(out / "cm.png"),
        "per_class": str(out / "per_class.tsv"),
        "predictions": [str(out / "test.csv")],
        "model": str(out / "model.keras"),
        "history": str(out / "history.csv"),
        "curves": str(out / "curves.png"),
    }
    out.mkdir()
    line = summarize(
        metric_files, prediction_files, [1, 2], ["test"], genres, "default", primary, outputs
    )

    report = json.loads((out / "metrics.json").read_text())
    stats = report["splits"]["test"]["mean_std"]
    for key in ("loss", "window_accuracy", "track_accuracy", "macro_f1"):
        values = [per_seed[1][0][key], per_seed[2][0][key]]
        assert stats[key]["mean"] == pytest.approx(np.mean(values))
        assert stats[key]["std"] == pytest.approx(np.std(values, ddof=1))
        assert stats[key]["n"] == 2
    # the ensemble averages the seeds' track probabilities: (0.75, 0.25), (0.45, 0.55), (0.15, 0.85)
    with open(out / "test.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_allclose([float(r["p_y"]) for r in rows], [0.25, 0.55, 0.85], atol=1e-6)
    assert report["track_accuracy"] == 1.0 and report["splits"]["test"]["ensemble"][
        "confusion_matrix"
    ] == [[1, 0], [0, 2]]
    assert report["window_accuracy"] == pytest.approx(0.7)
    assert "seeds 83.3% +- 23.6%" in line
    assert (out / "per_class.tsv").read_text().splitlines()[
        0
    ] == "split\tgenre\tprecision\trecall\tf1\tsupport"
    assert (out / "per_class.tsv").read_text().splitlines()[1].startswith("test\tx\t")
    assert (out / "model.keras").read_text() == "model"
    shutil.rmtree(out)


def test_the_headline_is_never_a_validation_score(tmp_path):
    """Without a test split the run says so: no top-level accuracy, the line names validation."""
    from genreflow.summary import summarize

    genres = ["x", "y"]
    m = tmp_path / "seed_1/metrics.json"
    m.parent.mkdir()
    m.write_text(
        json.dumps(
            {
                "seed": 1,
                "splits": {
                    "val": {
                        "loss": 0.5,
                        "window_accuracy": 0.5,
                        "track_accuracy": 0.5,
                        "macro_f1": 0.5,
                    }
                },
            }
        )
    )
    write_predictions(tmp_path / "seed_1/val.csv", [[0.8, 0.2], [0.6, 0.4]], ["x", "y"], genres)
    primary = {}
    for key, name in (
        ("model", "model.keras"),
        ("history", "history.csv"),
        ("curves", "curves.png"),
    ):
        primary[key] = str(tmp_path / name)
        Path(primary[key]).write_text(key)
    out = tmp_path / "out"
    out.mkdir()
    outputs = {
        "metrics": str(out / "metrics.json"),
        "confusion": str(out / "cm.png"),
        "per_class": str(out / "per_class.tsv"),
        "predictions": [str(out / "val.csv")],
        "model": str(out / "model.keras"),
        "history": str(out / "history.csv"),
        "curves": str(out / "curves.png"),
    }
    line = summarize(
        [str(m)], [str(tmp_path / "seed_1/val.csv")], [1], ["val"], genres, "blog", primary, outputs
    )
    report = json.loads((out / "metrics.json").read_text())
    assert report["headline_split"] is None
    assert (
        report["track_accuracy"] is None
        and report["accuracy"] is None
        and report["macro_f1"] is None
    )
    assert report["splits"]["val"]["ensemble"]["track_accuracy"] == 0.5, "kept, under its own name"
    assert (
        line
        == "genreflow: blog recipe, no held-out test split (split.ratios.test is 0): validation track accuracy 50.0%, which is no test result"
    )
    assert (out / "per_class.tsv").read_text().splitlines()[1].startswith("val\t")
