"""Runs the transfer recipe on one Keras backend in a process of its own (the backend is fixed per
process), on the data a test left in OUT (rows.json, backbone.weights.h5, embeddings.npz,
settings.json), and writes what the test compares to OUT/result.json.

    python transfer_driver.py fit BACKEND OUT [--seeds 5 5] [--crash PHASE EPOCHS]
    python transfer_driver.py predict BACKEND OUT --model M.keras

``--crash head 2`` ends the process like a killed job after the head's second epoch
(``fine_tune`` for the fine-tuning phase); every epoch begun is appended to OUT/epochs_begun.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "workflow"), str(HERE)]

from genreflow.runtime import configure  # noqa: E402

MODEL_OF_PHASE = {"head": "head", "fine_tune": "musicnn_transfer"}  # the model each phase fits


def fit_runs(args) -> dict:
    import keras
    from transfer_stand_in import GENRES, stand_in_backbone, use_patches

    from genreflow.embeddings import read_embeddings
    from genreflow.evaluation import evaluate_split
    from genreflow.params import SpectrogramParams
    from genreflow.recipe import TrainSettings
    from genreflow.transfer import fit

    use_patches()
    out = args.out
    rows = json.loads((out / "rows.json").read_text())
    settings = TrainSettings(**json.loads((out / "settings.json").read_text()))
    embeddings = read_embeddings([out / "embeddings.npz"])

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with open(out / "epochs_begun.txt", "a") as fh:
                steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
                fh.write(f"{self.model.name} {epoch} {steps}\n")

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            phase, epochs = args.crash or (None, 0)
            if self.model.name == MODEL_OF_PHASE.get(phase) and epoch + 1 == int(epochs):
                os._exit(3)  # like a killed job: no clean-up, no exception handling

    runs = []
    for i, seed in enumerate(args.seeds):
        configure(seed, 2, "off", "off", True, args.backend)
        keras.backend.clear_session()
        backbone = stand_in_backbone()
        backbone.load_weights(str(out / "backbone.weights.h5"))
        run = out / f"run{i}"
        model = fit(
            rows,
            GENRES,
            settings,
            SpectrogramParams(),
            seed,
            backbone,
            embeddings,
            run / "backup",
            run / "model.keras",
            run / "history.csv",
            verbose=0,
            extra_callbacks=[Record(), Crash()],
        )
        test = [r for r in rows if r["split"] == "test"]
        scores, probabilities = evaluate_split(model, test, GENRES, settings, None, embeddings)
        runs.append(
            {
                "seed": seed,
                "scores": scores,
                "probabilities": probabilities.tolist(),
                "history": (run / "history.csv").read_text(),
            }
        )
    return {"runs": runs}


def predict_run(args) -> dict:
    configure(0, 2, "off", "off", True, args.backend)
    import numpy as np
    from transfer_stand_in import use_patches

    from genreflow.inputs import track_patches
    from genreflow.transfer import load_classifier

    use_patches()
    rows = json.loads((args.out / "rows.json").read_text())
    model = load_classifier(args.model)
    patches = np.concatenate([track_patches(r["spectrogram"]) for r in rows])
    return {"probabilities": model.predict(patches, verbose=0).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["fit", "predict"])
    parser.add_argument("backend")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5])
    parser.add_argument("--crash", nargs=2)
    parser.add_argument("--model")
    args = parser.parse_args()
    if args.task == "fit":
        configure(args.seeds[0], 2, "off", "off", True, args.backend)
    result = fit_runs(args) if args.task == "fit" else predict_run(args)
    import keras

    result["backend"] = keras.backend.backend()
    (args.out / f"result-{args.task}-{args.backend}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
