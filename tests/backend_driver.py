"""Runs one tiny training or prediction on one Keras backend, in a process of its own (the
backend is fixed per process), and writes what the tests compare to ``<out>/result.json``.

    python backend_driver.py fit BACKEND OUT [--seeds 11 11 12] [--mixed-precision on] [--xla on] [--no-determinism]
    python backend_driver.py predict BACKEND OUT --model M.keras --pngs OUT_OF_FIT
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "workflow"), str(HERE)]

from genreflow.runtime import configure  # noqa: E402


def weights_digest(model) -> str:
    digest = hashlib.sha1()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()


def fit_runs(args, out: Path) -> dict:
    configure(args.seeds[0], 2, args.mixed_precision, args.xla, args.deterministic, args.backend)
    import keras
    import numpy as np
    from tiny_training import GENRES, SPEC, TINY, tiny_dataset

    from genreflow.evaluation import evaluate_split
    from genreflow.inputs import predict_tracks
    from genreflow.training import fit

    rows = tiny_dataset(out / "pngs")
    test_rows = [r for r in rows if r["split"] == "test"]
    runs = []
    for i, seed in enumerate(args.seeds):
        runtime = configure(
            seed, 2, args.mixed_precision, args.xla, args.deterministic, args.backend
        )
        keras.backend.clear_session()
        run = out / f"run{i}"
        model = fit(
            rows,
            GENRES,
            TINY,
            SPEC,
            seed,
            {},
            run / "backup",
            run / "model.keras",
            run / "history.csv",
            xla=runtime.xla,
            verbose=0,
        )
        scores, _ = evaluate_split(model, test_rows, GENRES, TINY, SPEC)
        raw = model.predict(np.zeros((2, *model.input_shape[1:]), np.float32), verbose=0)
        runs.append(
            {
                "seed": seed,
                "runtime": asdict(runtime),
                "model": str(run / "model.keras"),
                "history": (run / "history.csv").read_text(),
                "scores": scores,
                "weights": weights_digest(model),
                "predictions": [
                    p.tolist()
                    for p in predict_tracks(
                        model, [r["spectrogram"] for r in test_rows], TINY, SPEC
                    )
                ],
                "output_dtype": str(raw.dtype),
                "backup_left": (run / "backup").exists(),
            }
        )
    return {"runs": runs, "pngs": [r["spectrogram"] for r in test_rows]}


def predict_run(args) -> dict:
    configure(0, 2, "off", "off", True, args.backend)
    import keras
    from tiny_training import SPEC, TINY

    from genreflow.inputs import predict_tracks

    model = keras.models.load_model(args.model)
    pngs = json.loads(Path(args.pngs).read_text())["pngs"]
    return {"predictions": [p.tolist() for p in predict_tracks(model, pngs, TINY, SPEC)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["fit", "predict"])
    parser.add_argument("backend")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11])
    parser.add_argument("--mixed-precision", default="off")
    parser.add_argument("--xla", default="off")
    parser.add_argument("--no-determinism", dest="deterministic", action="store_false")
    parser.add_argument("--model")
    parser.add_argument("--pngs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = fit_runs(args, args.out) if args.task == "fit" else predict_run(args)
    import keras

    result |= {
        "backend": keras.backend.backend(),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
    (args.out / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
