"""Is the training input ever the bottleneck, and what did leaving tf.data cost? One run, side by
side on the same synthetic full-length spectrograms, each variant in a process of its own:

- before: the code of a git revision (default 13320bb: tf.data crops, SpecAugment and mixup),
  TensorFlow;
- now: this checkout (numpy crops and mixup in a keras.utils.PyDataset, SpecAugment masks in the
  training step), on TensorFlow and on JAX.

For each: windows/s of the training input alone (one epoch of batches, no model), windows/s of
the training steps fed by it, and seconds per epoch of ``training.fit`` (training plus
validation), the median over the epochs after the first (which compiles) of ``--rounds``
interleaved rounds; "epoch vs before" is the median over rounds of the ratio within a round.

Usage: python bench/input_pipeline.py [--tracks 700] [--epochs 5] [--rounds 3] [--before 13320bb]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np
from common import REPO, epoch_timer, machine, table, worker_arguments

GENRES = ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"]


def synthetic_spectrograms(
    root: Path, n_train: int, n_val: int, bands: int, frames: int
) -> list[dict[str, str]]:
    """Full-length grey spectrogram PNGs (noise plus a genre-dependent bright band) and their manifest."""
    from genreflow.pngio import write_png_atomic

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_train + n_val):
        genre = i % len(GENRES)
        image = rng.integers(0, 120, (bands, frames), dtype=np.uint8)
        image[4 + 10 * genre : 12 + 10 * genre] += 100
        path = root / f"t{i:05d}.png"
        write_png_atomic(path, image)
        rows.append(
            {
                "track": f"t{i:05d}",
                "genre": GENRES[genre],
                "split": "train" if i < n_train else "val",
                "spectrogram": str(path),
            }
        )
    return rows


def export_revision(revision: str, into: Path) -> Path:
    """The ``workflow/`` folder of a git revision, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "workflow"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "workflow"


# --- one variant, in its own process -------------------------------------------------------


def batches_of(dataset):
    """The batches of one epoch: a tf.data.Dataset (before) or a keras.utils.PyDataset (now)."""
    if hasattr(dataset, "__getitem__"):
        for index in range(len(dataset)):
            yield dataset[index]
        dataset.on_epoch_end()
    else:
        yield from dataset


def input_windows_per_second(dataset) -> float:
    for _ in batches_of(dataset):  # warm-up epoch: tf.data traces and autotunes
        pass
    start, windows = time.perf_counter(), 0
    for images, _ in batches_of(dataset):
        windows += len(images)
    return windows / (time.perf_counter() - start)


def worker(args) -> None:
    sys.path.insert(0, args.workflow)  # before genreflow is imported: the variant's code
    from genreflow.runtime import configure

    configure(seed=0, threads=2, mixed_precision="off", xla="off", deterministic=True)
    import keras

    from genreflow import training
    from genreflow.params import SpectrogramParams
    from genreflow.recipe import TrainSettings

    rows = json.loads(Path(args.rows).read_text())
    settings, spec = TrainSettings(epochs=args.epochs), SpectrogramParams()
    train, _, steps, _ = training.default_datasets(rows, GENRES, settings, spec, seed=0)
    input_rate = input_windows_per_second(train)
    windows_per_epoch = sum(1 for r in rows if r["split"] == "train") * training.draws_per_track(
        sum(1 for r in rows if r["split"] == "train"), settings
    )

    times = epoch_timer()
    work = Path(args.out).parent / f"fit-{os.getpid()}"
    training.fit(
        rows,
        GENRES,
        settings,
        spec,
        0,
        {},
        work / "backup",
        work / "model.keras",
        work / "history.csv",
        verbose=0,
        extra_callbacks=[times],
    )
    result = {
        "backend": keras.backend.backend(),
        "input_windows_per_s": input_rate,
        "train_s": times.train_s[1:],
        "epoch_s": times.epoch_s[1:],
        "windows_per_epoch": windows_per_epoch,
        "steps": steps,
    }
    Path(args.out).write_text(json.dumps(result))


# --- the comparison ------------------------------------------------------------------------


def run_variant(workflow: Path, backend: str, rows: Path, epochs: int, out: Path) -> dict:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OPENBLAS_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--workflow",
        str(workflow),
        "--rows",
        str(rows),
        "--epochs",
        str(epochs),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{workflow} on {backend} failed:\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tracks", type=int, default=700, help="training tracks (plus 20%% validation tracks)"
    )
    parser.add_argument(
        "--epochs", type=int, default=5, help="epochs per fit; the first is not counted"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of all variants")
    parser.add_argument("--before", default="13320bb", help="git revision of the tf.data pipeline")
    worker_arguments(parser, "workflow", "rows", "out")
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    from genreflow.params import SpectrogramParams

    spec = SpectrogramParams()
    with tempfile.TemporaryDirectory(prefix="genreflow-input-") as tmp:
        tmp = Path(tmp)
        rows = synthetic_spectrograms(
            tmp / "pngs", args.tracks, args.tracks // 5, spec.n_mels, spec.n_frames
        )
        (tmp / "rows.json").write_text(json.dumps(rows))
        variants = [
            (
                f"before ({args.before}): tf.data crops, SpecAugment, mixup",
                export_revision(args.before, tmp / "before"),
                "tensorflow",
            )
        ]
        variants.append(
            (
                "now: numpy crops + mixup (PyDataset), masks in the step",
                REPO / "workflow",
                "tensorflow",
            )
        )
        if importlib.util.find_spec("jax"):
            variants.append(
                (
                    "now: numpy crops + mixup (PyDataset), masks in the step",
                    REPO / "workflow",
                    "jax",
                )
            )
        results: dict[int, list[dict]] = {i: [] for i in range(len(variants))}
        for round_ in range(args.rounds):
            for i, (_, workflow, backend) in enumerate(variants):
                results[i].append(
                    run_variant(
                        workflow,
                        backend,
                        tmp / "rows.json",
                        args.epochs,
                        tmp / f"result-{round_}-{i}.json",
                    )
                )

    rows_out = []
    for i, (label, _, backend) in enumerate(variants):
        runs = results[i]
        input_rate = statistics.median(r["input_windows_per_s"] for r in runs)
        train_rate = runs[0]["windows_per_epoch"] / statistics.median(
            t for r in runs for t in r["train_s"]
        )
        epoch_s = statistics.median(t for r in runs for t in r["epoch_s"])
        # each round runs the variants back to back: a ratio within a round cancels the machine's drift
        vs_before = statistics.median(
            statistics.median(r["epoch_s"]) / statistics.median(b["epoch_s"])
            for r, b in zip(runs, results[0])
        )
        rows_out.append(
            [
                label,
                backend,
                f"{input_rate:.0f}",
                f"{train_rate:.0f}",
                f"{input_rate / train_rate:.1f}x",
                f"{epoch_s:.2f}",
                f"{min(t for r in runs for t in r['epoch_s']):.2f}",
                f"{vs_before:.2f}",
            ]
        )
    print(
        f"Default recipe, {args.tracks} training tracks of {spec.n_frames} frames ({runs[0]['steps']} steps of 32 windows an epoch), "
        f"{args.rounds} rounds x {args.epochs - 1} timed epochs, on {machine()}\n"
    )
    header = [
        "code",
        "backend",
        "input alone, windows/s",
        "training, windows/s",
        "input / training",
        "s per epoch (train + val), median",
        "min",
        "epoch vs before",
    ]
    print(table(header, rows_out))
    print(
        "\ninput / training > 3: the model, not the input, is the bottleneck; epoch vs before <= 1.10: no regression"
    )


if __name__ == "__main__":
    main()
