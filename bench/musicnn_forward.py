"""What one forward pass of musicnn costs per 30-s clip (10 patches of 3 s): the musicnn wheel's
own TF1 graph against the Keras 3 port (genreflow.musicnn), side by side in one run.

Each thread count and Keras backend runs in a process of its own (Keras' backend and the thread
pools are fixed per process); inside it, rounds interleave the original graph and every way of
running the port on the same batch, so load from elsewhere hits them alike. "vs original" is
the median over rounds of the ratio within a round. Rows:

- original: the wheel's ``models.define_model`` in TF1 graph mode, a ``tf.compat.v1.Session``
  with that many intra-op threads (tests/musicnn_driver.py builds it);
- TensorFlow call: ``model(batch)`` eagerly; predict_on_batch: Keras' compiled tf.function;
  jit_compile: the same with XLA (``model.compile(jit_compile=True)``);
- JAX: predict_on_batch, which JAX always compiles with XLA;
- resampling + mel: ``genreflow.musicnn.input_representation`` of the clip (22 050 Hz -> 16 kHz,
  mel, log), librosa, one process.

The port's models are built with a fixed batch of 10. Needs the musicnn wheel and tf-keras
(tools/setup.sh --dev). Usage: python bench/musicnn_forward.py [--rounds 5] [--clip FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine, table, worker_arguments

sys.path.insert(0, str(REPO / "tests"))
DEFAULT_CLIP = REPO.parent / "shared" / "data" / "gtzan-dev" / "blues" / "blues.00000.wav"
PATCHES = 10


def clip_batch(clip: Path | None):
    """(10 patches of the clip, seconds of resampling + mel); a synthetic clip without one."""
    import numpy as np
    import soundfile

    from genreflow import musicnn

    if clip and clip.is_file():
        samples, rate = soundfile.read(clip, dtype="float32")
    else:
        from genreflow.demo import synthesize

        samples, rate = synthesize(0, 0, 30.0, 22050, seed=1), 22050
    musicnn.input_representation(samples[:22050], rate)  # librosa's first call sets itself up
    start = time.perf_counter()
    representation = musicnn.input_representation(samples, rate)
    mel_s = time.perf_counter() - start
    batch = musicnn.patches(representation)[:PATCHES]
    return np.ascontiguousarray(np.resize(batch, (PATCHES, *batch.shape[1:]))), mel_s


def timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def worker(args) -> dict:
    """One process: the original graph and the port on one backend, ``args.threads`` threads."""
    threads = int(args.threads)
    os.environ["KERAS_BACKEND"] = args.backend
    if args.backend == "jax" and threads == 1:  # as genreflow.runtime does for one thread
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # the wheel's TF1 layers, before TensorFlow starts
    import tensorflow as tf
    from musicnn_driver import original_graph

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    from genreflow import musicnn

    batch, mel_s = clip_batch(Path(args.clip) if args.clip else None)
    session, x, outputs, feed = original_graph("MSD_musicnn", threads)
    runs = {"original": lambda: session.run(outputs, {x: batch, **feed})}
    model = musicnn.load_musicnn(args.weights, batch_size=PATCHES)
    if args.backend == "tensorflow":
        runs["TensorFlow call"] = lambda: model(batch)
        runs["TensorFlow predict_on_batch"] = lambda: model.predict_on_batch(batch)
        jit = musicnn.load_musicnn(args.weights, batch_size=PATCHES)
        jit.compile(jit_compile=True)
        runs["TensorFlow jit_compile"] = lambda: jit.predict_on_batch(batch)
    else:
        runs["JAX predict_on_batch (XLA)"] = lambda: model.predict_on_batch(batch)
    for run in runs.values():  # compiles, warms caches
        run()
    times = {name: [] for name in runs}
    for _ in range(int(args.rounds)):
        for name, run in runs.items():
            times[name].append(timed(run))
    return {"threads": threads, "times": times, "mel_s": mel_s}


def run_worker(args, backend: str, threads: int, weights: Path) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    cmd = [sys.executable, __file__, "--worker", "--backend", backend, "--threads", str(threads)]
    cmd += ["--weights", str(weights), "--rounds", str(args.rounds), "--clip", str(args.clip)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} x{threads} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def convert(folder: Path) -> Path:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    driver = REPO / "tests" / "musicnn_driver.py"
    subprocess.run(
        [sys.executable, str(driver), "convert", str(folder), "MSD_musicnn"], env=env, check=True
    )
    return folder / "MSD_musicnn.weights.h5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    worker_arguments(parser, "backend", "threads", "weights")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        weights = convert(Path(tmp))
        results = [
            (backend, run_worker(args, backend, threads, weights))
            for threads in (1, 2)
            for backend in ("tensorflow", "jax")
        ]
    load_after = os.getloadavg()

    rows = []
    for backend, result in results:
        original = [wall for wall, _ in result["times"]["original"]]
        for name, times in result["times"].items():
            if name == "original" and backend != "tensorflow":
                label = "original (again, beside JAX)"
            else:
                label = name
            walls = [wall for wall, _ in times]
            ratio = statistics.median(w / o for w, o in zip(walls, original))
            rows.append(
                [
                    label,
                    result["threads"],
                    f"{statistics.median(walls):.2f}",
                    f"{statistics.median(cpu for _, cpu in times):.2f}",
                    "" if name == "original" else f"{ratio:.2f}x",
                ]
            )
    mel = statistics.median(result["mel_s"] for _, result in results)
    rows.append(["resampling + mel (librosa)", 1, f"{mel:.2f}", "", ""])
    clip = args.clip if args.clip.is_file() else "synthetic 30-s clip"
    print(f"musicnn forward pass, MSD_musicnn, 10 patches of 3 s from {clip}")
    print(f"{machine()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"median of {args.rounds} interleaved rounds (wall s; cpu s = this process's CPU time)\n")
    print(table(["run", "threads", "s per clip", "cpu s", "vs original"], rows))


if __name__ == "__main__":
    main()
