"""Classification metrics: scikit-learn's, in the shapes metrics.json and per_class.tsv use, and
the confidence interval of an accuracy on a small test set."""

from __future__ import annotations

import numpy as np

# scikit-learn is imported where it is used: this module is also imported when the Snakefile is
# parsed (through genreflow.experiments), and importing sklearn.metrics there took 1-2 s.


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    from sklearn import metrics as sk

    return sk.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).astype(np.int64)


def per_class_scores(
    y_true: np.ndarray, y_pred: np.ndarray, names: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every class, 0 where undefined (``zero_division=0``:
    a class never predicted has precision 0, not NaN)."""
    from sklearn import metrics as sk

    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(len(names)), zero_division=0
    )
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the truth or the predictions (scikit-learn's
    ``average="macro"`` without ``labels``): a genre absent from a small test split adds no
    zero, but a genre predicted for tracks of other genres counts (with F1 0)."""
    from sklearn import metrics as sk

    if len(y_true) == 0:
        return 0.0
    return float(sk.f1_score(y_true, y_pred, average="macro", zero_division=0))


def wilson_interval(correct: int, total: int, level: float = 0.95) -> list[float] | None:
    """The Wilson score interval of ``correct`` out of ``total`` (scipy's ``binomtest``), e.g.
    7 of 9 = 77.8 % lies in [45.3 %, 93.7 %]; None without tracks."""
    if total == 0:
        return None
    from scipy.stats import binomtest

    interval = binomtest(int(correct), int(total)).proportion_ci(
        confidence_level=level, method="wilson"
    )
    return [float(interval.low), float(interval.high)]


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def track_probabilities(window_probs: list[np.ndarray]) -> np.ndarray:
    """A track's class probabilities: the mean over its windows."""
    return np.stack([p.mean(axis=0) for p in window_probs])


def score(window_probs: list[np.ndarray], labels: np.ndarray, names: list[str]) -> dict:
    """Window- and track-level scores of one split; ``window_probs[i]`` is (windows, classes)."""
    from sklearn import metrics as sk

    window_labels = np.concatenate([np.full(len(p), y) for p, y in zip(window_probs, labels)])
    all_windows = np.concatenate(window_probs)
    tracks = track_probabilities(window_probs)
    predicted = tracks.argmax(axis=1)
    correct = int(np.sum(predicted == labels))
    return {
        "n_tracks": int(len(labels)),
        "n_windows": int(len(window_labels)),
        "loss": cross_entropy(all_windows, window_labels),
        "window_accuracy": float(np.mean(all_windows.argmax(axis=1) == window_labels)),
        "track_accuracy": float(sk.accuracy_score(labels, predicted)),
        "track_accuracy_ci95": wilson_interval(correct, len(labels)),
        "accuracy": float(sk.accuracy_score(labels, predicted)),
        "macro_f1": macro_f1(labels, predicted),
        "per_class": per_class_scores(labels, predicted, names),
        "confusion_matrix": confusion_matrix(labels, predicted, len(names)).tolist(),
    }


def mean_std(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
        "n": int(len(arr)),
    }
