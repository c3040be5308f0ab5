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

NAMES = ["a", "b", "c", "d", "e"]


def test_scores_keep_their_format_and_values_worked_out_by_hand():
    """metrics.json's per-class scores, macro-F1 and confusion matrix (scikit-learn computes them):
    class "c" is never predicted (precision 0, not NaN), "d" is predicted but never true (it
    counts in macro-F1 with F1 0), "e" is neither (left out of macro-F1)."""
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 3])
    assert metrics.confusion_matrix(y_true, y_pred, 5).tolist() == [
        [1, 1, 0, 0, 0],
        [0, 2, 0, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    per_class = metrics.per_class_scores(y_true, y_pred, NAMES)
    assert per_class == {
        "a": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2},
        "b": {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": 0.8, "support": 2},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "d": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        "e": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
    }
    assert all(type(v["support"]) is int and type(v["f1"]) is float for v in per_class.values())
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 0.8 + 0 + 0) / 4)
    assert metrics.macro_f1(np.array([], int), np.array([], int)) == 0.0


def test_wilson_interval_is_the_textbook_formula():
    """Wilson (1927): (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96."""
    z = 1.959963984540054
    for correct, total in ((7, 9), (0, 5), (5, 5), (38, 50)):
        p = correct / total
        centre = p + z * z / (2 * total)
        spread = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
        low, high = metrics.wilson_interval(correct, total)
        assert low == pytest.approx((centre - spread) / (1 + z * z / total))
        assert high == pytest.approx((centre + spread) / (1 + z * z / total))
    assert metrics.wilson_interval(0, 0) is None


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
    assert scores["track_accuracy_ci95"] == pytest.approx(metrics.wilson_interval(2, 2))


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
    low, high = metrics.wilson_interval(3, 3)
    assert report["track_accuracy_ci95"] == pytest.approx([low, high]) and report["n_tracks"] == 3
    assert f"track accuracy 100.0% (95% CI {low * 100:.1f}-100.0%, 3 tracks)" in line
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


def test_the_one_line_summary_names_the_kind_of_split_and_the_interval():
    from genreflow.summary import one_line_summary

    report = {
        "recipe": "cnn",
        "headline_split": "test",
        "split_kind": "partly by track: blues, rock",
        "track_accuracy": 7 / 9,
        "track_accuracy_ci95": metrics.wilson_interval(7, 9),
        "n_tracks": 9,
        "window_accuracy": 0.75,
        "macro_f1": 0.7,
        "splits": {"test": {"mean_std": {}}},
    }
    assert one_line_summary(report) == (
        "genreflow: cnn recipe, test split (partly by track: blues, rock), track accuracy "
        "77.8% (95% CI 45.3-93.7%, 9 tracks), window accuracy 75.0%, macro-F1 0.700"
    )
    blog = {**report, "headline_split": None, "split_kind": "random by track"}
    blog["splits"] = {"val": {"ensemble": {"track_accuracy": 0.2}}}
    assert one_line_summary(blog) == (
        "genreflow: cnn recipe, no held-out test split (split.ratios.test is 0; random by "
        "track): validation track accuracy 20.0%, which is no test result"
    )
