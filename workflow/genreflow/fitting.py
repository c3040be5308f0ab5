"""What every recipe's training shares (genreflow.training for the CNN recipes,
genreflow.transfer for the pretrained one): labels, the resumable backup, the best-epoch and
per-epoch-log callbacks, the history, saving the model."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .atomic import atomic_path
from .params import SpectrogramParams
from .recipe import TrainSettings

log = logging.getLogger(__name__)


def rows_of(rows: list[dict[str, str]], split: str) -> list[dict[str, str]]:
    return [r for r in rows if r["split"] == split]


def labels_of(rows: list[dict[str, str]], genres: list[str]) -> np.ndarray:
    index = {g: i for i, g in enumerate(genres)}
    return np.array([index[r["genre"]] for r in rows], dtype=np.int32)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[labels]


def best_so_far(history_csv: Path, monitor: str, start_epoch: int = 0) -> float | None:
    """The best ``monitor`` value of the epochs (from ``start_epoch`` on) finished before an interruption."""
    history = read_history(history_csv)
    if history is None or monitor not in history:
        return None
    values = history.loc[history["epoch"] >= start_epoch, monitor].dropna()
    return float(values.min()) if len(values) else None


def read_history(history_csv: Path) -> pd.DataFrame | None:
    """The per-epoch history ``keras.callbacks.CSVLogger`` wrote, or None before the first epoch."""
    if not history_csv.exists() or history_csv.stat().st_size == 0:
        return None
    return pd.read_csv(history_csv)


class BestWeights(keras.callbacks.Callback):
    """Writes the weights of the epoch with the lowest ``val_loss`` seen from ``start_epoch`` on.

    The file outlives an interruption, and ``best`` is seeded from the history of the epochs
    already run, so a resumed training keeps comparing against the true best."""

    def __init__(self, path: Path, start_epoch: int, best: float | None = None):
        super().__init__()
        self.path, self.start_epoch, self.best = path, start_epoch, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_loss")
        if (
            epoch < self.start_epoch
            or value is None
            or (self.best is not None and value >= self.best)
        ):
            return
        self.best = float(value)
        tmp = self.path.with_name(".tmp." + self.path.name)
        self.model.save_weights(str(tmp))
        tmp.replace(self.path)


class EpochLog(keras.callbacks.Callback):
    """One readable line per epoch in the rule's log, whatever Keras' verbosity."""

    def on_epoch_end(self, epoch, logs=None):
        log_epoch(epoch, logs or {})


def log_epoch(epoch: int, values: dict) -> None:
    log.info(
        "epoch %d: %s",
        epoch + 1,
        ", ".join(
            f"{k}={float(v):.4f}" for k, v in sorted(values.items()) if isinstance(v, (float, int))
        ),
    )


def log_finished_epochs(history_csv: Path) -> None:
    """A resumed training's log starts with the lines of the epochs finished before the
    interruption: Snakemake deletes a job's log before it runs the job again, the backup's
    history keeps them."""
    history = read_history(history_csv)
    if history is None or history.empty:
        return
    log.info(
        "resuming after %d finished epoch(s), logged again from %s:", len(history), history_csv
    )
    for row in history.to_dict("records"):
        log_epoch(int(row.pop("epoch")), {k: v for k, v in row.items() if pd.notna(v)})


def run_fingerprint(
    rows: list[dict[str, str]], settings: TrainSettings, spec: SpectrogramParams, seed: int
) -> str:
    """What a backup is only valid for: settings, backend, seed, spectrograms and the tracks of each split."""
    tracks = sorted((r["split"], r["track"]) for r in rows if r["split"] in ("train", "val"))
    payload = {
        "settings": asdict(settings),
        "backend": keras.backend.backend(),
        "spectrogram": spec.signature(),
        "seed": seed,
        "tracks": tracks,
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


def prepare_backup(backup_dir: Path, fingerprint: str) -> None:
    """Keep a backup to resume from only if it was made by the same run; a backup of a run with
    other settings (the config was edited after an interruption) would load wrong weights."""
    stamp = backup_dir / "run.sha1"
    if backup_dir.exists() and (not stamp.exists() or stamp.read_text() != fingerprint):
        log.info("discarding %s: it belongs to a run with other settings or tracks", backup_dir)
        shutil.rmtree(backup_dir)
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)


def save_atomic(model: keras.Model, path: Path) -> None:
    with atomic_path(path, ".keras") as tmp:
        model.save(tmp)
