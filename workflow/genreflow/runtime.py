"""Backend, seeds, determinism, threads and GPU options, decided once before Keras is imported.

Keras 3 runs the same model code on TensorFlow, JAX or PyTorch; the backend is fixed when
``keras`` is first imported, so every entry point calls :func:`configure` before that.
``train.backend: auto`` takes ``KERAS_BACKEND`` from the environment, else TensorFlow (what
``envs/train.yaml`` installs); ``tensorflow``, ``jax`` or ``torch`` in the config win over it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class Runtime:
    backend: str
    gpu: bool
    mixed_precision: bool
    xla: bool  # the training step is compiled with XLA: TensorFlow when asked, JAX always, PyTorch never


def _switch(value: str | bool, gpu: bool) -> bool:
    if isinstance(value, bool):
        return value
    return {"auto": gpu, "on": True, "off": False}[value]


def resolve_backend(setting: str = "auto") -> str:
    """The backend a ``train.backend`` setting means here: ``auto`` is ``$KERAS_BACKEND``, else TensorFlow."""
    backend = (os.environ.get("KERAS_BACKEND") or "tensorflow") if setting == "auto" else setting
    if backend not in BACKENDS:
        source = "KERAS_BACKEND" if setting == "auto" else "train.backend"
        raise ValueError(f"{source}={backend!r}: the backend must be one of {', '.join(BACKENDS)}")
    return backend


def select_backend(backend: str) -> None:
    """Make ``backend`` the one ``import keras`` loads; an already imported Keras must agree."""
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        raise RuntimeError(
            f"keras was imported with the {keras.backend.backend()} backend before {backend} was chosen"
        )
    os.environ["KERAS_BACKEND"] = backend


def _set_up_tensorflow(threads: int, deterministic: bool) -> bool:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except RuntimeError:
            # TF fixes its thread pools at first use; a later call in the same process
            # (one benchmark fold after another) keeps the pools it already has.
            pass
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return bool(tf.config.list_physical_devices("GPU"))


def _add_xla_flags(*flags: str) -> None:
    """XLA reads XLA_FLAGS once, when JAX starts its first device: a later call has no effect."""
    present = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join(
        present + [f for f in flags if f.split("=")[0] not in {p.split("=")[0] for p in present}]
    )


def _set_up_jax(threads: int, deterministic: bool) -> bool:
    # XLA on CPU has no thread-count option: it uses the cores this process may run on (a SLURM
    # job's CPUs), or one thread when asked for one.
    if threads == 1:
        _add_xla_flags("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
    if deterministic:
        _add_xla_flags("--xla_gpu_deterministic_ops=true")  # CPU results are deterministic already
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


def _set_up_torch(threads: int, deterministic: bool) -> bool:
    if deterministic:
        os.environ.setdefault(
            "CUBLAS_WORKSPACE_CONFIG", ":4096:8"
        )  # cuBLAS refuses determinism without it
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # fixed at first use, as with TensorFlow
            torch.set_num_interop_threads(min(2, threads))
    if deterministic:
        # warn_only: an op without a deterministic kernel warns instead of stopping the training
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.cuda.is_available()


_SET_UP = {"tensorflow": _set_up_tensorflow, "jax": _set_up_jax, "torch": _set_up_torch}


def _compiles(backend: str, xla: str | bool, gpu: bool, deterministic: bool) -> bool:
    """Whether Keras compiles the training step. JAX always does, with XLA (op by op it is many
    times slower). On TensorFlow it means XLA, which Keras itself turns off under op determinism
    (not every XLA kernel is deterministic): ``deterministic: true`` wins. PyTorch has no XLA
    here, and Keras' jit_compile there means torch.compile, which failed on this training step
    (torch 2.11 inductor, on the partial last batch): its steps run eagerly."""
    if backend == "jax":
        return True
    if backend == "torch":
        if _switch(xla, gpu) and xla != "auto":
            log.warning("xla: %s does not apply on PyTorch; its training steps run eagerly", xla)
        return False
    wanted = _switch(xla, gpu)
    if wanted and deterministic:
        log.warning("XLA stays off: TensorFlow op determinism (train.deterministic) excludes it")
    return wanted and not deterministic


def seed_everything(seed: int, backend: str) -> None:
    """``keras.utils.set_random_seed`` (Python, numpy, the backend, Keras' global generator).

    On JAX and PyTorch it would also import TensorFlow, whenever installed (it is, with
    envs/train.yaml), only to seed it: measured 5 s of start-up per job here, and on a GPU a
    second framework that reserves GPU memory. For that call TensorFlow looks uninstalled to
    Keras (None in sys.modules), which Keras remembers, so the process never loads it."""
    import keras

    hide = backend != "tensorflow" and "tensorflow" not in sys.modules
    if hide:
        sys.modules["tensorflow"] = None
    try:
        keras.utils.set_random_seed(seed)
    finally:
        if hide:
            del sys.modules["tensorflow"]


def configure(
    seed: int,
    threads: int,
    mixed_precision: str | bool,
    xla: str | bool,
    deterministic: bool,
    backend: str = "auto",
) -> Runtime:
    name = resolve_backend(backend)
    select_backend(name)
    gpu = _SET_UP[name](threads, deterministic)
    import keras

    seed_everything(seed, name)
    runtime = Runtime(
        backend=name,
        gpu=gpu,
        mixed_precision=_switch(mixed_precision, gpu),
        xla=_compiles(name, xla, gpu, deterministic),
    )
    keras.mixed_precision.set_global_policy(
        "mixed_float16" if runtime.mixed_precision else "float32"
    )
    log.info(
        "runtime: %s, seed %d, %d threads, deterministic=%s", runtime, seed, threads, deterministic
    )
    return runtime
