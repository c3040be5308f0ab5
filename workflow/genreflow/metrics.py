"""Classification metrics in plain numpy: no TensorFlow or scikit-learn needed to score."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_scores(cm: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, actual)
    }


def macro_f1(per_class: dict[str, dict[str, float]]) -> float:
    """Mean F1 over the classes present in the ground truth (absent classes would only add zeros)."""
    scores = [c["f1"] for c in per_class.values() if c["support"] > 0]
    return float(np.mean(scores)) if scores else 0.0


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def track_probabilities(window_probs: list[np.ndarray]) -> np.ndarray:
    """A track's class probabilities: the mean over its windows."""
    return np.stack([p.mean(axis=0) for p in window_probs])


def score(window_probs: list[np.ndarray], labels: np.ndarray, names: list[str]) -> dict:
    """Window- and track-level scores of one split; ``window_probs[i]`` is (windows, classes)."""
    window_labels = np.concatenate([np.full(len(p), y) for p, y in zip(window_probs, labels)])
    all_windows = np.concatenate(window_probs)
    tracks = track_probabilities(window_probs)
    predicted = tracks.argmax(axis=1)
    cm = confusion_matrix(labels, predicted, len(names))
    per_class = per_class_scores(cm, names)
    return {
        "n_tracks": int(len(labels)),
        "n_windows": int(len(window_labels)),
        "loss": cross_entropy(all_windows, window_labels),
        "window_accuracy": float(np.mean(all_windows.argmax(axis=1) == window_labels)),
        "track_accuracy": float(np.mean(predicted == labels)),
        "accuracy": float(np.mean(predicted == labels)),
        "macro_f1": macro_f1(per_class),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def mean_std(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, "n": int(len(arr))}
