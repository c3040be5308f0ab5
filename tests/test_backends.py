"""Keras backends (issue 12): the same seed gives the same model on each backend, a model saved
on one backend predicts the same on another, mixed precision and XLA forced on in a CPU run,
and no TensorFlow in a JAX process. Each backend runs in a process of its own
(``backend_driver.py``): Keras fixes its backend at import."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from tiny_training import ALL_BACKENDS, TINY, missing

DRIVER = REPO / "tests" / "backend_driver.py"


def drive(task: str, backend: str, out: Path, *args: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("KERAS_BACKEND", None)  # the driver's argument decides
    proc = subprocess.run(
        [sys.executable, str(DRIVER), task, backend, str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads((out / "result.json").read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Per backend, three tiny trainings in one process: seeds 11, 11 and 12."""
    cache = {}

    def get(backend: str) -> dict:
        if backend not in cache:
            cache[backend] = drive(
                "fit",
                backend,
                tmp_path_factory.mktemp(f"fit_{backend}"),
                "--seeds",
                "11",
                "11",
                "12",
            )
        return cache[backend]

    return get


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_same_seed_same_model_and_metrics_other_seed_differs(trained, backend):
    first, again, other = trained(backend)["runs"]
    assert trained(backend)["backend"] == backend
    assert len(first["history"].splitlines()) == TINY.epochs + 1
    assert first["history"] == again["history"]
    assert first["scores"] == again["scores"]
    assert first["weights"] == again["weights"]
    assert first["history"] != other["history"]
    assert first["weights"] != other["weights"]
    assert not first["backup_left"], "the backup is removed once the model is written"


@pytest.mark.parametrize(
    "trained_on,predicted_on",
    [
        ("jax", "tensorflow"),
        ("tensorflow", "jax"),
        ("torch", "tensorflow"),
        ("tensorflow", "torch"),
    ],
)
def test_a_model_saved_on_one_backend_predicts_the_same_on_another(
    trained, tmp_path, trained_on, predicted_on
):
    for name in (trained_on, predicted_on):
        if missing(name):
            pytest.skip(missing(name))
    source = trained(trained_on)
    run = source["runs"][0]
    pngs = tmp_path / "pngs.json"
    pngs.write_text(json.dumps({"pngs": source["pngs"]}))
    elsewhere = drive(
        "predict", predicted_on, tmp_path / "predict", "--model", run["model"], "--pngs", str(pngs)
    )
    assert elsewhere["backend"] == predicted_on
    assert len(elsewhere["predictions"]) == len(run["predictions"]) > 0
    for here, there in zip(run["predictions"], elsewhere["predictions"]):
        np.testing.assert_allclose(np.array(there), np.array(here), atol=1e-5)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_mixed_precision_and_xla_forced_on_in_a_cpu_run(tmp_path, backend):
    # TensorFlow: Keras turns XLA off under op determinism, so this run goes without it
    result = drive(
        "fit", backend, tmp_path, "--mixed-precision", "on", "--xla", "on", "--no-determinism"
    )
    run = result["runs"][0]
    assert run["runtime"]["mixed_precision"]
    assert run["runtime"]["xla"] == (backend != "torch"), (
        "PyTorch has no XLA: its steps run eagerly"
    )
    assert run["output_dtype"] == "float32", "the softmax stays float32"
    losses = [float(row["loss"]) for row in csv.DictReader(run["history"].splitlines())]
    assert len(losses) == TINY.epochs
    assert np.all(np.isfinite(losses)) and np.isfinite(run["scores"]["loss"])
    assert np.all(np.isfinite(np.concatenate(run["predictions"])))


@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b.values[0] != "tensorflow"])
def test_training_and_evaluation_on_another_backend_never_import_tensorflow(trained, backend):
    result = trained(backend)
    assert result["runs"] and result["backend"] == backend
    assert not result["tensorflow_imported"]


def test_backend_comes_from_the_config_else_keras_backend_else_tensorflow(monkeypatch):
    from genreflow.runtime import resolve_backend

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert resolve_backend("auto") == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert resolve_backend("auto") == "jax"
    assert resolve_backend("torch") == "torch", "the config wins over the environment"
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    with pytest.raises(ValueError, match="KERAS_BACKEND='theano'"):
        resolve_backend("auto")
    with pytest.raises(ValueError, match="train.backend='mxnet'"):
        resolve_backend("mxnet")


def test_a_backend_chosen_after_keras_was_imported_is_refused():
    import keras

    from genreflow.runtime import select_backend

    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(RuntimeError, match=f"before {other} was chosen"):
        select_backend(other)
