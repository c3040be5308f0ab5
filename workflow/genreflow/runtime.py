"""Seeds, determinism, threads and GPU options, decided once before any model is built."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    gpu: bool
    mixed_precision: bool
    xla: bool


def _switch(value: str | bool, gpu: bool) -> bool:
    if isinstance(value, bool):
        return value
    return {"auto": gpu, "on": True, "off": False}[value]


def configure(seed: int, threads: int, mixed_precision: str | bool, xla: str | bool, deterministic: bool) -> Runtime:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except RuntimeError:
            # TF fixes its thread pools at first use; a later call in the same process
            # (one benchmark fold after another) keeps the pools it already has.
            pass
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    gpu = bool(tf.config.list_physical_devices("GPU"))
    runtime = Runtime(gpu=gpu, mixed_precision=_switch(mixed_precision, gpu), xla=_switch(xla, gpu))
    keras.mixed_precision.set_global_policy("mixed_float16" if runtime.mixed_precision else "float32")
    log.info("runtime: %s, seed %d, %d threads, deterministic=%s", runtime, seed, threads, deterministic)
    return runtime
