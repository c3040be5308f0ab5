"""Experiments: named variants of the configuration compared by cross-validation.

Every variant x fold x seed is its own job. The folds are scikit-learn's ``StratifiedGroupKFold``
partitions (stratified by genre, seeded, one artist's tracks in one fold unless
``split.group_by`` is ``none``; ``genreflow.split.group_tracks``); for fold k the held-out test fold is k, the validation fold
(early stopping, best epoch) is k + 1, and the model trains on the rest: the test fold never
reaches training or model selection.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .blocks import OK
from .config import ConfigError
from .metrics import mean_std
from .split import stratified_group_folds

SCORES = ("track_accuracy", "window_accuracy", "macro_f1")


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``base`` with ``override`` on top, nested mappings merged key by key by Snakemake's own
    ``update_config`` (what --configfile does); neither argument is changed."""
    from snakemake.utils import update_config

    out = copy.deepcopy(dict(base))
    update_config(out, copy.deepcopy(dict(override)))
    return out


def variant_config(
    base: Mapping, spec: Mapping | str | None, workflow_root: str | os.PathLike = "."
) -> dict:
    """The configuration of one variant: the run's configuration (without ``experiments``) with
    the variant's overrides, given inline or as a preset file, on top. A preset file that is
    not there, or overrides that set ``experiments`` (which would be ignored: the run's folds,
    seeds and variants hold for every variant), raise ConfigError; the caller names the variant."""
    if isinstance(spec, str):
        path = Path(spec)
        path = path if path.is_absolute() or path.exists() else Path(workflow_root) / path
        if not path.is_file():
            raise ConfigError(f"preset file '{spec}' does not exist")
        spec = yaml.safe_load(path.read_text()) or {}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"preset file '{path}' holds no mapping of settings")
    if spec and "experiments" in spec:
        raise ConfigError(
            "overrides 'experiments' itself: folds, seeds and variants are the run's, the same "
            "for every variant (set them at the top level, outside experiments.variants)"
        )
    return deep_merge({k: v for k, v in base.items() if k != "experiments"}, spec or {})


def assign_folds(
    tracks: Iterable[tuple[str, str, str]],
    k: int,
    seed: int,
    groups: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """track key -> fold (0-based) for (key, genre, file name) triples: scikit-learn's
    ``StratifiedGroupKFold``, stratified by genre and shuffled with ``seed``; the tracks of one
    group (``groups``: key -> group, e.g. an artist; a track without one is its own) share a
    fold."""
    ordered = sorted(tracks)  # the same folds whatever the input order
    if not ordered:
        return {}
    groups = groups or {}
    folds = stratified_group_folds(
        [genre for _, genre, _ in ordered], [groups.get(key, key) for key, _, _ in ordered], k, seed
    )
    return {key: fold for (key, _, _), fold in zip(ordered, folds)}


def fold_roles(fold: int, k: int) -> dict[int, str]:
    """Which part each fold plays when ``fold`` is held out."""
    return {f: "test" if f == fold else "val" if f == (fold + 1) % k else "train" for f in range(k)}


def fold_manifest(
    folds: Mapping[str, int], records: Iterable[Mapping[str, str]], fold: int, k: int
) -> list[dict[str, str]]:
    """Manifest rows (track, genre, split, spectrogram, sha256) of one fold, from the index
    records of the variant's spectrograms; tracks without a fold or a spectrogram are left out."""
    roles = fold_roles(fold, k)
    return [
        {
            "track": r["key"],
            "genre": r["label"],
            "split": roles[folds[r["key"]]],
            "spectrogram": r["png"],
            "sha256": r["png_sha256"],
        }
        for r in records
        if r["status"] == OK and r["key"] in folds
    ]


def compare(runs: list[dict], ensembles: Mapping[tuple[str, int], dict]) -> pd.DataFrame:
    """One row per variant: the test scores as mean and standard deviation over folds and seeds,
    the seed ensemble's test track accuracy (mean over folds), validation track accuracy
    (labelled: it picked the epoch), and training time."""
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        row = {
            "variant": variant,
            "runs": len(mine),
            "folds": len({r["fold"] for r in mine}),
            "seeds": len({r["seed"] for r in mine}),
        }
        for score in SCORES:
            stats = mean_std([r["test"][score] for r in mine])
            row[f"test_{score}_mean"], row[f"test_{score}_std"] = stats["mean"], stats["std"]
        ens = [v["track_accuracy"] for (name, _), v in ensembles.items() if name == variant]
        row["test_track_accuracy_seed_ensemble"] = float(np.mean(ens)) if ens else float("nan")
        row["val_track_accuracy_mean"] = mean_std([r["val"]["track_accuracy"] for r in mine])[
            "mean"
        ]
        row["train_s_mean"] = mean_std([r["train_s"] for r in mine])["mean"]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_comparison(table: pd.DataFrame, runs: list[dict], path: str | os.PathLike) -> None:
    """Test track accuracy per variant: mean +- std over folds and seeds, and each fold's mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .atomic import atomic_path

    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(table) + 2), 4))
    x = np.arange(len(table))
    ax.bar(
        x,
        table["test_track_accuracy_mean"],
        yerr=table["test_track_accuracy_std"],
        capsize=6,
        color="#9ecae1",
        label="mean +- std (folds x seeds)",
    )
    for i, variant in enumerate(table["variant"]):
        per_fold = pd.DataFrame(
            [(r["fold"], r["test"]["track_accuracy"]) for r in runs if r["variant"] == variant],
            columns=["fold", "acc"],
        )
        means = per_fold.groupby("fold")["acc"].mean()
        ax.scatter(
            np.full(len(means), i) + np.linspace(-0.15, 0.15, len(means)),
            means,
            color="#08519c",
            zorder=3,
            s=18,
            label="one fold (mean over seeds)" if i == 0 else None,
        )
    ax.set_xticks(x, table["variant"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("test track accuracy")
    ax.set_title("Variants compared by cross-validation (held-out test folds)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
