"""Combining the per-seed evaluations: mean +- std over seeds and ensemble predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .metrics import mean_std, score
from .plots import plot_confusion
from .tables import read_track_predictions, write_report_table, write_track_predictions

SCALARS = ("loss", "window_accuracy", "track_accuracy", "macro_f1")


def ensemble_split(
    prediction_files: list[str], genres: list[str]
) -> tuple[list[dict[str, str]], np.ndarray, dict]:
    """Mean track probabilities over seeds, scored at track level."""
    tables = [read_track_predictions(p) for p in prediction_files]
    rows = tables[0][0].to_dict("records")
    if not rows:
        return rows, np.zeros((0, len(genres))), {}
    probabilities = np.mean([probs for _, probs in tables], axis=0)
    labels = np.array([genres.index(r["true_genre"]) for r in rows])
    scores = score([p[None] for p in probabilities], labels, genres)
    for window_only in ("n_windows", "window_accuracy", "loss"):
        scores.pop(window_only)
    return rows, probabilities, scores


def summarize(
    seed_metrics, seed_predictions, seeds, splits, genres, recipe, primary, outputs, split_info=None
) -> str:
    """metrics.json, the confusion matrix, per_class.tsv and the first seed's model files;
    ``split_info`` (``genreflow.split.describe``: the kind of split) goes into metrics.json."""
    per_seed = {
        seed: json.loads(Path(p).read_text())["splits"] for seed, p in zip(seeds, seed_metrics)
    }
    report: dict = {"recipe": recipe, "seeds": list(seeds), "splits": {}}
    for split_index, split in enumerate(splits):
        files = [seed_predictions[i * len(splits) + split_index] for i in range(len(seeds))]
        rows, probabilities, ensemble = ensemble_split(files, genres)
        target = (
            outputs["predictions"][split_index]
            if isinstance(outputs["predictions"], list)
            else outputs["predictions"]
        )
        write_track_predictions(
            target,
            [r["file"] for r in rows],
            [r["track"] for r in rows],
            [r["true_genre"] for r in rows],
            probabilities,
            genres,
        )
        seeds_here = {seed: m[split] for seed, m in per_seed.items() if split in m}
        report["splits"][split] = {
            "ensemble": ensemble,
            "mean_std": {k: mean_std([m[k] for m in seeds_here.values()]) for k in SCALARS}
            if seeds_here
            else {},
            "per_seed": seeds_here,
        }
    # The headline is the held-out test split, or nothing: validation scores picked the epoch
    # (or, for the blog recipe, are all there is) and are reported only under their own name.
    test = report["splits"].get("test", {})
    headline = "test" if test.get("ensemble") else None
    ensemble, over_seeds = (test["ensemble"], test["mean_std"]) if headline else ({}, {})
    report.update(
        headline_split=headline,
        accuracy=ensemble.get("track_accuracy"),
        track_accuracy=ensemble.get("track_accuracy"),
        track_accuracy_ci95=ensemble.get("track_accuracy_ci95"),
        n_tracks=ensemble.get("n_tracks"),
        split_kind=(split_info or {}).get("kind"),
        window_accuracy=over_seeds.get("window_accuracy", {}).get("mean"),
        loss=over_seeds.get("loss", {}).get("mean"),
        macro_f1=ensemble.get("macro_f1"),
        per_class=ensemble.get("per_class", {}),
        split=split_info,
    )
    with atomic_path(outputs["metrics"]) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    # the plots and the per-genre table show the test split, or, labelled, validation
    shown = "test" if headline else "val"
    shown_scores = report["splits"].get(shown, {}).get("ensemble", {})
    label = "test split" if headline else "VALIDATION split (no test split: not a held-out result)"
    cm = np.array(
        shown_scores.get("confusion_matrix", np.zeros((len(genres), len(genres)), dtype=int))
    )
    kind = f" ({report['split_kind']})" if report["split_kind"] else ""
    plot_confusion(
        cm, genres, outputs["confusion"], f"{recipe} recipe, {label}{kind}, {len(seeds)} seed(s)"
    )
    write_report_table(
        outputs["per_class"],
        ("split", "genre", "precision", "recall", "f1", "support"),
        (
            [
                shown,
                g,
                f"{c['precision']:.3f}",
                f"{c['recall']:.3f}",
                f"{c['f1']:.3f}",
                c["support"],
            ]
            for g, c in shown_scores.get("per_class", {}).items()
        ),
    )
    for key in ("model", "history", "curves"):
        with atomic_path(outputs[key], Path(outputs[key]).suffix) as tmp:
            shutil.copyfile(primary[key], tmp)
    return one_line_summary(report)


def accuracy_with_interval(accuracy: float, interval: list[float] | None, n: int | None) -> str:
    """ "track accuracy 77.8% (95% CI 45.3-93.7%, 9 tracks)"."""
    if not interval:
        return f"track accuracy {accuracy:.1%}"
    tracks = f", {n} tracks" if n else ""
    return (
        f"track accuracy {accuracy:.1%} "
        f"(95% CI {interval[0] * 100:.1f}-{interval[1] * 100:.1f}%{tracks})"
    )


def one_line_summary(report: dict) -> str:
    split = report["headline_split"]
    kind = f" ({report['split_kind']})" if report.get("split_kind") else ""
    if split is None:
        val = report["splits"].get("val", {}).get("ensemble", {})
        shown = (
            f": validation track accuracy {val['track_accuracy']:.1%}, which is no test result"
            if val.get("track_accuracy") is not None
            else ""
        )
        why = (
            f"split.ratios.test is 0; {report['split_kind']}" if kind else "split.ratios.test is 0"
        )
        return f"genreflow: {report['recipe']} recipe, no held-out test split ({why}){shown}"
    stats = report["splits"].get(split, {}).get("mean_std", {})
    parts = [f"{report['recipe']} recipe, {split} split{kind}"]
    if report.get("track_accuracy") is not None:
        parts.append(
            accuracy_with_interval(
                report["track_accuracy"], report.get("track_accuracy_ci95"), report.get("n_tracks")
            )
        )
    if report.get("window_accuracy") is not None:
        parts.append(f"window accuracy {report['window_accuracy']:.1%}")
    if report.get("macro_f1") is not None:
        parts.append(f"macro-F1 {report['macro_f1']:.3f}")
    if stats.get("track_accuracy", {}).get("n", 0) > 1:
        parts.append(
            f"seeds {stats['track_accuracy']['mean']:.1%} +- {stats['track_accuracy']['std']:.1%}"
        )
    return "genreflow: " + ", ".join(parts)
