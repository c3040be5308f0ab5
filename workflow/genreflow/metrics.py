"""Classification metrics in plain numpy: no TensorFlow or scikit-learn needed to score."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class arrays, 0 where undefined (scikit-learn's ``zero_division=0``): a class never
    predicted has precision 0, not NaN."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def per_class_scores(cm: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    precision, recall, f1 = precision_recall_f1(cm)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, cm.sum(axis=1))
    }


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the truth or the predictions, as scikit-learn's
    ``f1_score(average="macro")`` does: a genre absent from a small test split adds no zero,
    but a genre predicted for tracks of other genres counts (with F1 0)."""
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(precision_recall_f1(cm)[2][present].mean()) if present.any() else 0.0


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
        "macro_f1": macro_f1(cm),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def mean_std(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
        "n": int(len(arr)),
    }
