"""Is the training input pipeline ever the bottleneck? Windows/s of the tf.data pipeline alone
vs windows/s of full training steps, on synthetic full-length spectrograms.

Usage: python bench/input_pipeline.py [--tracks 700] [--steps 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import machine, table


def throughput(dataset, steps: int, batch_size: int, step_fn=None) -> float:
    iterator = iter(dataset.repeat())
    for _ in range(5):  # warm-up: tracing, autotuning
        batch = next(iterator)
        if step_fn:
            step_fn(batch)
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(iterator)
        if step_fn:
            step_fn(batch)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=700)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    from genreflow.runtime import configure

    configure(seed=0, threads=2, mixed_precision="off", xla="off", deterministic=True)
    from genreflow import data, models
    from genreflow.params import SpectrogramParams
    from genreflow.recipe import TrainSettings
    from genreflow.training import compile_model, window_frames

    settings, spec = TrainSettings(), SpectrogramParams()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.tracks, spec.n_mels, spec.n_frames), dtype=np.uint8)
    labels = rng.integers(0, 10, size=args.tracks).astype(np.int32)
    width = window_frames(settings, spec)
    augment = dict(freq_masks=settings.freq_masks, freq_max=settings.freq_mask_max, time_masks=settings.time_masks, time_max=settings.time_mask_max)
    ds = data.training_windows(images, labels, 10, width, settings.batch_size, seed=0, windows_per_track=settings.windows_per_track, augment=augment)
    pipeline = throughput(ds, args.steps, settings.batch_size)

    model = models.default_cnn((spec.n_mels, width, 1), 10, settings.filters, settings.dropout, settings.input_pool)
    compile_model(model, settings, steps_per_epoch=100, xla=False)
    training = throughput(ds, args.steps, settings.batch_size, step_fn=lambda b: model.train_on_batch(*b))
    print(f"Default recipe input pipeline, {args.tracks} tracks of {spec.n_frames} frames, on {machine()}\n")
    print(table(["stage", "windows/s"], [["tf.data pipeline alone (crop + SpecAugment)", f"{pipeline:.0f}"], ["training steps fed by it", f"{training:.0f}"]]))
    print(f"\npipeline / training = {pipeline / training:.1f}x (> 1: the model, not the input, is the bottleneck)")


if __name__ == "__main__":
    main()
