"""musicnn on one side of the fidelity check, in a process of its own (the Keras backend is fixed
per process, and the wheel's TF1 graph needs tf-keras switched on before TensorFlow starts).

    python musicnn_driver.py original OUT.npz INPUTS.npz ARCH...        # the wheel's own graph
    python musicnn_driver.py convert DIR ARCH...                         # DIR/<ARCH>.weights.h5
    python musicnn_driver.py port BACKEND OUT.npz INPUTS.npz ARCH=WEIGHTS...
    python musicnn_driver.py load WEIGHTS ARCH                           # loads on JAX, or fails

INPUTS.npz holds named batches of log-mel patches, (n, 187, 96); OUT.npz gets
``<arch>/<input>/<feature>`` for every feature of ``genreflow.musicnn.FEATURES``. The original
graph is test-only code (also used by bench/musicnn_forward.py): it builds the wheel's
``musicnn.models.define_model`` in TF1 graph mode and restores the checkpoint with
``tf.compat.v1.train.Saver``, as the wheel's ``extractor`` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "workflow"), str(HERE)]

N_TAGS = 50


def original_graph(architecture: str, threads: int = 0):
    """(session, input placeholder, outputs by feature name) of the wheel's own TF1 graph.

    ``threads`` > 0 caps the session's intra-op threads (0: TensorFlow's default)."""
    # tf.compat.v1.layers, which the wheel's models.py uses, exist under TF 2.16+ only with tf-keras
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import tensorflow as tf

    from genreflow.musicnn import N_MELS, PATCH_FRAMES, checkpoint_dir

    warnings.filterwarnings("ignore", message=r"`tf\.layers\.")  # the wheel's TF1 layers
    from musicnn import models

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate = (
            models.define_model(x, is_training, architecture, N_TAGS)
        )
        outputs = {
            "timbral": timbral,
            "temporal": temporal,
            # (batch, frames, 64, 1) in the wheel: its extractor squeezes them
            "cnn1": tf.squeeze(cnn1, [3]),
            "cnn2": tf.squeeze(cnn2, [3]),
            "cnn3": tf.squeeze(cnn3, [3]),
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "taggram": tf.nn.sigmoid(logits),
        }
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=threads, inter_op_parallelism_threads=min(threads, 2)
        )
        session = tf.compat.v1.Session(graph=graph, config=config)
        tf.compat.v1.train.Saver().restore(session, str(checkpoint_dir(architecture)) + os.sep)
    feed = {is_training: False}
    return session, x, outputs, feed


def original(out: Path, inputs: Path, architectures: list[str]) -> None:
    import numpy as np

    batches = dict(np.load(inputs))
    results = {}
    for arch in architectures:
        session, x, outputs, feed = original_graph(arch)
        for name, batch in batches.items():
            for feature, value in session.run(outputs, {x: batch, **feed}).items():
                results[f"{arch}/{name}/{feature}"] = value
        session.close()
    np.savez(out, **results)


def convert(folder: Path, architectures: list[str]) -> None:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    from genreflow.musicnn import checkpoint_dir, convert_checkpoint

    for arch in architectures:
        convert_checkpoint(checkpoint_dir(arch), arch, folder / f"{arch}.weights.h5")


def port(backend: str, out: Path, inputs: Path, weights: list[str]) -> None:
    os.environ["KERAS_BACKEND"] = backend
    import keras
    import numpy as np

    from genreflow.musicnn import FEATURES, load_musicnn

    assert keras.backend.backend() == backend
    batches = dict(np.load(inputs))
    results = {}
    for spec in weights:
        arch, path = spec.split("=", 1)
        model = load_musicnn(path, arch)
        for name, batch in batches.items():
            got = model.predict_on_batch(batch)
            for feature in FEATURES:
                results[f"{arch}/{name}/{feature}"] = np.asarray(got[feature])
    results["tensorflow_imported"] = np.array("tensorflow" in sys.modules)
    np.savez(out, **results)


def main() -> None:
    task, args = sys.argv[1], sys.argv[2:]
    if task == "original":
        original(Path(args[0]), Path(args[1]), args[2:])
    elif task == "convert":
        convert(Path(args[0]), args[1:])
    elif task == "load":
        os.environ["KERAS_BACKEND"] = "jax"
        from genreflow.musicnn import load_musicnn

        load_musicnn(args[0], args[1])
    elif task == "port":
        port(args[0], Path(args[1]), Path(args[2]), args[3:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
