"""The GPU rule, measured: the default recipe trained on the train rule's code path
(``runtime.configure`` with the config's defaults, then ``training.fit``) on GTZAN-sized
synthetic data, once per Keras backend, each in a process of its own, and one table: windows/s,
seconds per epoch, total training time, peak memory, test accuracy.

The data: 1000 synthetic 30-s clips (the demo generator, 10 genres x 100), featurised with the
default log-mel settings, split like the workflow (hash split 70/15/15, seed 1337).

On a GPU machine with JAX, PyTorch and CUDA but no TensorFlow and no package registry, one
command (the wheels it needs come along in .whl/, see bench/gpu_wheels.sh):

    bash bench/gpu_check.sh                  # JAX and PyTorch on the GPU, a JAX row on its CPU

Here, on CPU only (fewer epochs, said in the table):

    .venv/bin/python bench/gpu_check.py --backends tensorflow jax --epochs 3

The pretrained recipe (``--recipe musicnn``, README "The pretrained recipe"): the clips
featurised as spectrogram.kind musicnn, then per backend the embeddings jobs' work (the frozen
network over every clip's 3-s patches, float32: clips/s), the head on the stored features
(``train.transfer`` defaults) and fine-tuning of the whole network (``--fine-tune-epochs``), with
the test accuracy of both. ``--weights`` names a converted weights file
(results/pretrained/MSD_musicnn.weights.h5); without it the network has random weights: the
timings are the same, the accuracies mean nothing (said in the table).

    bash bench/gpu_check.sh --recipe musicnn --weights results/pretrained/MSD_musicnn.weights.h5
    .venv/bin/python bench/gpu_check.py --recipe musicnn --backends tensorflow --clips 100 --fine-tune-epochs 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import GENRES, epoch_timer, machine, peak_rss_mib, table, worker_arguments

SEED = 42  # the workflow's default train.seeds


# --- data ----------------------------------------------------------------------------------


def featurise_clip(job: tuple[int, int, str, str]) -> None:
    from genreflow.demo import synthesize
    from genreflow.featurize import render
    from genreflow.params import SpectrogramParams
    from genreflow.pngio import write_png_atomic

    genre_index, track, png, kind = job
    spec = SpectrogramParams.from_config({"kind": kind})
    if not Path(png).exists():
        write_png_atomic(
            png,
            render(synthesize(genre_index, track, spec.duration_s, spec.sample_rate, seed=1), spec),
        )


def gtzan_sized(root: Path, clips: int, kind: str = "logmel") -> list[dict[str, str]]:
    """Manifest rows of ``clips`` synthetic spectrograms of ``kind`` under ``root`` (made once,
    then reused)."""
    from genreflow.split import Entry, split_by_hash

    jobs, entries = [], []
    for i in range(clips):
        genre_index, track = i % len(GENRES), i // len(GENRES)
        genre = GENRES[genre_index]
        png = root / genre / f"{genre}.{track:05d}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((genre_index, track, str(png), kind))
        entries.append(Entry(f"{genre}.{track:05d}", genre, str(png)))
    # one BLAS thread per process, as the featurisation jobs have (numpy is not imported yet)
    with multiprocessing.Pool(
        os.cpu_count(), initializer=os.environ.__setitem__, initargs=("OPENBLAS_NUM_THREADS", "1")
    ) as pool:
        pool.map(featurise_clip, jobs, chunksize=8)
    split = split_by_hash(entries, {"train": 0.7, "val": 0.15, "test": 0.15}, 1337)
    return [
        {"track": e.track, "genre": e.genre, "split": split[e.track], "spectrogram": e.spectrogram}
        for e in entries
    ]


# --- one training, in its own process --------------------------------------------------------


def peak_device_memory_mib(backend: str, gpu: bool) -> float | None:
    if not gpu:
        return None
    if backend == "jax":
        import jax

        return jax.local_devices()[0].memory_stats()["peak_bytes_in_use"] / 2**20
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import tensorflow as tf

    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def device_name(backend: str, gpu: bool) -> str:
    if not gpu:
        return "CPU"
    if backend == "jax":
        import jax

        return jax.local_devices()[0].device_kind
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0)
    return "GPU"


def worker(args) -> None:
    if args.recipe == "musicnn":
        return transfer_worker(args)
    from genreflow.recipe import TrainSettings
    from genreflow.runtime import configure

    settings = TrainSettings(
        epochs=args.epochs, deterministic=not args.nondeterministic, xla=args.xla
    )
    runtime = configure(
        SEED,
        os.cpu_count(),
        settings.mixed_precision,
        settings.xla,
        settings.deterministic,
        args.backend,
    )
    import keras

    from genreflow.evaluation import evaluate_split
    from genreflow.params import SpectrogramParams
    from genreflow.training import draws_per_track, fit

    rows = json.loads(Path(args.rows).read_text())
    n_train = sum(r["split"] == "train" for r in rows)
    timer = epoch_timer()
    work = Path(args.out).with_suffix("")
    start = time.perf_counter()
    model = fit(
        rows,
        GENRES,
        settings,
        SpectrogramParams(),
        SEED,
        {},
        work / "backup",
        work / "model.keras",
        work / "history.csv",
        xla=runtime.xla,
        verbose=0,
        extra_callbacks=[timer],
    )
    total_s = time.perf_counter() - start
    scores, _ = evaluate_split(
        model, [r for r in rows if r["split"] == "test"], GENRES, settings, SpectrogramParams()
    )
    result = {
        "backend": keras.backend.backend(),
        "device": device_name(runtime.backend, runtime.gpu),
        "mixed_precision": runtime.mixed_precision,
        "compiled": runtime.xla,
        "deterministic": settings.deterministic,
        "epochs_run": len(timer.epoch_s),
        "first_epoch_s": timer.epoch_s[0],
        "epoch_s": statistics.median(timer.epoch_s[1:] or timer.epoch_s),
        "windows_per_s": n_train
        * draws_per_track(n_train, settings)
        / statistics.median(timer.train_s[1:] or timer.train_s),
        "total_s": total_s,
        "peak_device_mib": peak_device_memory_mib(runtime.backend, runtime.gpu),
        "peak_rss_mib": peak_rss_mib(),
        "test_track_accuracy": scores["track_accuracy"],
    }
    Path(args.out).write_text(json.dumps(result))


# --- the pretrained recipe, in its own process ---------------------------------------------------


def phase_timer():
    """Seconds of every epoch, per phase (the model each phase fits: head, musicnn_transfer)."""
    import keras

    class PhaseTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch_s: dict[str, list[float]] = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.begin
            self.epoch_s.setdefault(self.model.name, []).append(elapsed)

    return PhaseTimes()


def transfer_worker(args) -> None:
    """The embeddings jobs' work (float32, as they run), then the train rule's: the head on the
    stored features, and the whole network fine-tuned, under the config's precision."""
    from dataclasses import replace

    from genreflow.recipe import TrainSettings, TransferSettings
    from genreflow.runtime import configure

    settings = TrainSettings(
        recipe="musicnn",
        deterministic=not args.nondeterministic,
        xla=args.xla,
        transfer=TransferSettings(fine_tune_epochs=int(args.epochs)),
    )
    configure(SEED, os.cpu_count(), "off", "off", settings.deterministic, args.backend)
    import keras

    from genreflow.embeddings import ClipEmbedding
    from genreflow.evaluation import evaluate_split
    from genreflow.inputs import read_representation
    from genreflow.musicnn import build_musicnn
    from genreflow.params import SpectrogramParams
    from genreflow.transfer import fit, patch_features

    def network():
        model = build_musicnn(args.architecture)
        if args.weights:
            model.load_weights(args.weights)
        return model

    rows = json.loads(Path(args.rows).read_text())
    start = time.perf_counter()
    representations = [read_representation(r["spectrogram"]) for r in rows]
    read_s = time.perf_counter() - start
    backbone = network()
    start = time.perf_counter()
    patch_features(backbone, representations[:8])  # builds (and on JAX compiles) predict
    embed_first_s = time.perf_counter() - start
    start = time.perf_counter()
    features = patch_features(backbone, representations, batch_size=int(args.embed_batch))
    embed_s = time.perf_counter() - start
    embeddings = {r["track"]: ClipEmbedding(r["track"], "", f) for r, f in zip(rows, features)}
    patches = sum(len(f["penultimate"]) for f in features)

    work = Path(args.out).with_suffix("")
    results = {}
    for phase, phase_settings in (
        ("head", replace(settings, transfer=replace(settings.transfer, fine_tune_epochs=0))),
        ("fine_tune", settings),
    ):
        if phase == "fine_tune" and not settings.transfer.fine_tune_epochs:
            continue
        keras.backend.clear_session()  # resets the precision policy: configure sets it again
        runtime = configure(
            SEED,
            os.cpu_count(),
            settings.mixed_precision,
            settings.xla,
            settings.deterministic,
            args.backend,
        )
        timer = phase_timer()
        start = time.perf_counter()
        model = fit(
            rows,
            GENRES,
            phase_settings,
            SpectrogramParams(),
            SEED,
            network(),
            embeddings,
            work / phase / "backup",
            work / phase / "model.keras",
            work / phase / "history.csv",
            xla=runtime.xla,
            verbose=0,
            extra_callbacks=[timer],
        )
        total_s = time.perf_counter() - start
        test = [r for r in rows if r["split"] == "test"]
        start = time.perf_counter()
        scores, _ = evaluate_split(model, test, GENRES, phase_settings, None, embeddings)
        results[phase] = {
            "total_s": total_s,
            "epoch_s": timer.epoch_s,
            "evaluate_s": time.perf_counter() - start,
            "test_track_accuracy": scores["track_accuracy"],
        }
    result = {
        "backend": keras.backend.backend(),
        "device": device_name(runtime.backend, runtime.gpu),
        "mixed_precision": runtime.mixed_precision,
        "compiled": runtime.xla,
        "clips": len(rows),
        "patches": patches,
        "read_s": read_s,
        "embed_first_s": embed_first_s,
        "embed_s": embed_s,
        "phases": results,
        "peak_device_mib": peak_device_memory_mib(runtime.backend, runtime.gpu),
        "peak_rss_mib": peak_rss_mib(),
        "weights": args.weights or "random",
    }
    Path(args.out).write_text(json.dumps(result))


# --- the table -----------------------------------------------------------------------------


def run(
    backend: str, rows: Path, out: Path, epochs: int, cpu_only: bool, extra: list[str]
) -> dict | str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    env.pop("KERAS_BACKEND", None)
    if cpu_only:  # the same run on this machine's CPU
        env |= {"JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--backend",
        backend,
        "--rows",
        str(rows),
        "--epochs",
        str(epochs),
        "--out",
        str(out),
        *extra,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(
            f"{backend}{' (CPU)' if cpu_only else ''} failed:\n{proc.stderr[-3000:]}",
            file=sys.stderr,
        )
        return f"failed ({proc.stderr.strip().splitlines()[-1][:80] if proc.stderr.strip() else proc.returncode})"
    return json.loads(out.read_text())


def row(label: str, r: dict | str, epochs: int) -> list[str]:
    if isinstance(r, str):
        return [label, r] + [""] * 9
    memory = (
        f"{r['peak_device_mib']:.0f} (GPU)"
        if r["peak_device_mib"] is not None
        else f"{r['peak_rss_mib']:.0f} (RSS)"
    )
    precision = "mixed fp16" if r["mixed_precision"] else "fp32"
    return [
        label,
        r["device"],
        precision,
        "yes" if r["compiled"] else "no",
        f"{r['epochs_run']} of {epochs}",
        f"{r['windows_per_s']:.0f}",
        f"{r['first_epoch_s']:.1f}",
        f"{r['epoch_s']:.2f}",
        f"{r['total_s']:.1f}",
        memory,
        f"{r['test_track_accuracy']:.1%}",
    ]


def transfer_row(label: str, r: dict | str, epochs: int) -> list[str]:
    if isinstance(r, str):
        return [label, r] + [""] * 12
    head, tuned = r["phases"]["head"], r["phases"].get("fine_tune")
    tuning = tuned["epoch_s"].get("musicnn_transfer", []) if tuned else []
    memory = (
        f"{r['peak_device_mib']:.0f} (GPU)"
        if r["peak_device_mib"] is not None
        else f"{r['peak_rss_mib']:.0f} (RSS)"
    )
    return [
        label,
        r["device"],
        "mixed fp16" if r["mixed_precision"] else "fp32",
        r["weights"] if r["weights"] == "random" else Path(r["weights"]).name,
        f"{r['clips'] / r['embed_s']:.1f}",
        f"{r['embed_first_s']:.1f}",
        f"{len(head['epoch_s'].get('head', []))}",
        f"{head['total_s']:.1f}",
        f"{len(tuning)} of {epochs}",
        f"{statistics.median(tuning[1:] or tuning):.1f}" if tuning else "",
        f"{tuned['total_s']:.1f}" if tuned else "",
        memory,
        f"{head['test_track_accuracy']:.1%}",
        f"{tuned['test_track_accuracy']:.1%}" if tuned else "",
    ]


TRANSFER_HEADER = [
    "backend",
    "device",
    "precision (training)",
    "weights",
    "embeddings clips/s",
    "first call s",
    "head epochs",
    "head training s",
    "fine-tuning epochs",
    "s per fine-tuning epoch",
    "fine-tuning total s",
    "peak memory MiB",
    "test accuracy frozen",
    "test accuracy fine-tuned",
]


def check_transfer_ready() -> None:
    """The pretrained recipe needs the port (genreflow.musicnn) and the musicnn spectrograms."""
    import importlib.util

    from genreflow.params import SpectrogramParams

    if importlib.util.find_spec("genreflow.musicnn") is None:
        sys.exit("--recipe musicnn needs genreflow.musicnn (the musicnn port, issue 17)")
    if SpectrogramParams.from_config({"kind": "musicnn"}).sample_rate != 16000:
        sys.exit("--recipe musicnn needs spectrogram.kind: musicnn (issue 18's featurisation)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe",
        choices=["default", "musicnn"],
        default="default",
        help="musicnn: the pretrained recipe (embeddings, head, fine-tuning)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["jax", "torch"],
        help="Keras backends to train on (default device)",
    )
    parser.add_argument(
        "--cpu-backends", nargs="*", default=[], help="backends to train on the CPU alone as well"
    )
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument(
        "--epochs",
        type=int,
        default=30,
        help="the default recipe's 30; with --recipe musicnn the fine-tuning epochs (0: none)",
    )
    parser.add_argument(
        "--cpu-epochs", type=int, default=3, help="epochs of the --cpu-backends rows"
    )
    parser.add_argument(
        "--nondeterministic", action="store_true", help="train.deterministic: false"
    )
    parser.add_argument("--xla", default="auto", help="train.xla (no effect on PyTorch)")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder for the spectrograms, kept for later runs (default: a temporary one)",
    )
    parser.add_argument("--table", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--weights", default="", help="musicnn: converted weights (default: random weights)"
    )
    parser.add_argument("--architecture", default="MSD_musicnn", help="musicnn: the network")
    parser.add_argument(
        "--embed-batch", type=int, default=64, help="musicnn: patches per embeddings batch"
    )
    worker_arguments(parser, "backend", "rows", "out")
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    extra = (["--nondeterministic"] if args.nondeterministic else []) + ["--xla", args.xla]
    kind = "logmel"
    if args.recipe == "musicnn":
        check_transfer_ready()
        kind = "musicnn"
        extra += ["--recipe", "musicnn", "--architecture", args.architecture]
        extra += ["--embed-batch", str(args.embed_batch)]
        extra += ["--weights", str(Path(args.weights).resolve())] if args.weights else []
    with tempfile.TemporaryDirectory(prefix="genreflow-gpu-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        rows = gtzan_sized((args.data or tmp / "spectrograms") / kind, args.clips, kind)
        data_s = time.perf_counter() - start
        (tmp / "rows.json").write_text(json.dumps(rows))
        results = [
            (
                b,
                run(b, tmp / "rows.json", tmp / f"{b}.json", args.epochs, False, extra),
                args.epochs,
            )
            for b in args.backends
        ]
        results += [
            (
                f"{b} (CPU only)",
                run(b, tmp / "rows.json", tmp / f"{b}-cpu.json", args.cpu_epochs, True, extra),
                args.cpu_epochs,
            )
            for b in args.cpu_backends
        ]

    n_train = sum(r["split"] == "train" for r in rows)
    if args.recipe == "musicnn":
        return print_transfer_table(args, results, n_train, data_s)
    header = [
        "backend",
        "device",
        "precision",
        "compiled step",
        "epochs run",
        "windows/s",
        "first epoch s",
        "s per epoch",
        "training total s",
        "peak memory MiB",
        "test track accuracy",
    ]
    text = "\n".join(
        [
            f"Default recipe, {args.clips} synthetic 30-s clips ({n_train} training tracks), seed {SEED}, "
            f"deterministic={not args.nondeterministic}, xla={args.xla}; data made in {data_s:.0f} s; on {machine()}",
            "",
            table(header, [row(label, r, epochs) for label, r, epochs in results]),
            "",
            "windows/s: training windows per second of training steps; s per epoch: median after the first (which compiles),"
            " training plus validation; training total: the whole training.fit call (loading the spectrograms included).",
        ]
    )
    print(text)
    if args.table:
        args.table.write_text(text + "\n")


def print_transfer_table(args, results, n_train: int, data_s: float) -> None:
    text = "\n".join(
        [
            f"musicnn recipe ({args.architecture}, train.transfer defaults), {args.clips} synthetic "
            f"30-s clips ({n_train} training tracks), seed {SEED}, deterministic="
            f"{not args.nondeterministic}, xla={args.xla}; data made in {data_s:.0f} s; on {machine()}",
            "",
            table(
                TRANSFER_HEADER,
                [transfer_row(label, r, epochs) for label, r, epochs in results],
            ),
            "",
            "embeddings clips/s: the frozen network (float32, as the embeddings jobs run it) over "
            "every clip's 3-s patches, PNG reading excluded, after a first call that builds (JAX: "
            "compiles) it; head training s: transfer.fit with a frozen network (early-stopped, "
            "saving included); fine-tuning: a second fit, head then the whole network. Random "
            "weights: timings as with the real ones, accuracies meaningless.",
        ]
    )
    print(text)
    if args.table:
        args.table.write_text(text + "\n")


if __name__ == "__main__":
    main()
