"""k-fold by track: the default recipe against the blog recipe on the same GTZAN-layout folder.

Every clip is featurised once per recipe (its own spectrogram settings) into a cache outside
the repository. Folds are stratified by genre and seeded. For fold i the held-out fold is
scored and nothing else is done with it; the next fold, (i + 1) mod k, is the validation set
the default recipe early-stops on (and the blog recipe only watches), and the remaining k - 2
folds are trained on. Both recipes see exactly the same tracks in every role.

    .venv/bin/python bench/kfold.py --out docs/benchmark-quality.md
    .venv/bin/python bench/kfold.py --folds 3 --epochs 5 --recipes default   # quick look
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import platform
import random
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from genreflow.featurize import featurize_file
from genreflow.params import SpectrogramParams, is_up_to_date  # noqa: E402
from genreflow.recipe import TrainSettings  # noqa: E402
from genreflow.tracks import Track, discover_tracks  # noqa: E402

log = logging.getLogger("kfold")
PRESETS = {"default": None, "blog": REPO / "config/presets/blog.yaml"}


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def recipe_config(recipe: str) -> dict:
    """config/config.yaml with the recipe's preset on top, as ``--configfile`` would give it."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    preset = PRESETS[recipe]
    return merged(config, yaml.safe_load(preset.read_text())) if preset else config


def stratified_folds(tracks: list[Track], k: int, seed: int) -> dict[str, int]:
    """track id -> fold: each genre's tracks shuffled with ``seed`` and dealt round-robin,
    continuing the deal across genres so that fold sizes differ by at most one."""
    by_genre: dict[str, list[str]] = defaultdict(list)
    for t in tracks:
        by_genre[t.genre].append(t.track_id)
    rng = random.Random(seed)
    folds, position = {}, 0
    for genre in sorted(by_genre):
        ids = sorted(by_genre[genre])
        rng.shuffle(ids)
        for track_id in ids:
            folds[track_id] = position % k
            position += 1
    return folds


def featurise(tracks: list[Track], spec: SpectrogramParams, cache: Path) -> dict[str, str]:
    """PNG per track under ``cache/<signature>``, reused while the spectrogram settings hold."""
    root = cache / spec.signature()
    paths = {}
    for t in tracks:
        png = root / t.genre / f"{t.track_id}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        if not is_up_to_date(str(png), t.audio, spec.signature()):
            featurize_file(t.audio, str(png), spec)
        paths[t.track_id] = str(png)
    return paths


def manifest_rows(tracks: list[Track], folds: dict[str, int], test_fold: int, k: int, pngs: dict[str, str]) -> list[dict[str, str]]:
    val_fold = (test_fold + 1) % k
    role = lambda f: "test" if f == test_fold else "val" if f == val_fold else "train"  # noqa: E731
    return [{"track": t.track_id, "genre": t.genre, "split": role(folds[t.track_id]), "spectrogram": pngs[t.track_id]} for t in tracks]


def run_fold(recipe: str, config: dict, rows: list[dict[str, str]], genres: list[str], seed: int, work: Path, threads: int) -> dict:
    from genreflow.runtime import configure

    settings = TrainSettings.from_config(config["train"])
    runtime = configure(seed, threads, settings.mixed_precision, settings.xla, settings.deterministic)

    import keras

    from genreflow.evaluation import evaluate_split
    from genreflow.split import build_tree
    from genreflow.training import fit

    spec = SpectrogramParams.from_config(config["spectrogram"])
    if work.exists():
        shutil.rmtree(work)
    tree_dirs = {s: str(work / "tree" / s) for s in ("train", "val")}
    build_tree(tree_dirs, rows, genres)
    keras.backend.clear_session()
    start = time.perf_counter()
    model = fit(rows, genres, settings, spec, seed, tree_dirs, work / "backup", work / "model.keras", work / "history.csv", xla=runtime.xla, verbose=0)
    train_s = time.perf_counter() - start
    epochs = sum(1 for _ in open(work / "history.csv")) - 1
    scores, _ = evaluate_split(model, [r for r in rows if r["split"] == "test"], genres, settings, spec)
    return {"train_s": train_s, "epochs": epochs, **{k: scores[k] for k in ("window_accuracy", "track_accuracy", "macro_f1", "n_tracks", "n_windows")}}


def mean_std(values: list[float]) -> str:
    arr = np.asarray(values, dtype=float)
    std = arr.std(ddof=1) if len(arr) > 1 else 0.0
    return f"{arr.mean():.1%} ± {std:.1%}"


def table(results: dict[str, list[dict]]) -> str:
    lines = [
        "| recipe | window accuracy | track accuracy | macro-F1 | train time / fold | epochs run / fold |",
        "|---|---|---|---|---|---|",
    ]
    for recipe, folds in results.items():
        f1 = np.array([f["macro_f1"] for f in folds])
        lines.append(
            f"| {recipe} | {mean_std([f['window_accuracy'] for f in folds])} | {mean_std([f['track_accuracy'] for f in folds])} "
            f"| {f1.mean():.3f} ± {f1.std(ddof=1) if len(f1) > 1 else 0.0:.3f} "
            f"| {np.mean([f['train_s'] for f in folds]):.0f} s | {np.mean([f['epochs'] for f in folds]):.1f} |"
        )
    return "\n".join(lines)


def per_fold(results: dict[str, list[dict]]) -> str:
    """Track accuracy / window accuracy / macro-F1 of every fold: with 10 test tracks a fold,
    one track is 10 points, and the spread says more than the mean."""
    n = max(len(f) for f in results.values())
    lines = ["| recipe | " + " | ".join(f"fold {i}" for i in range(n)) + " |", "|---" * (n + 1) + "|"]
    for recipe, folds in results.items():
        cells = [f"{f['track_accuracy']:.0%} / {f['window_accuracy']:.0%} / {f['macro_f1']:.2f}" for f in folds]
        lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/work/shared/data/gtzan-dev", help="GTZAN-layout folder")
    p.add_argument("--work-dir", default="/tmp/genreflow-kfold", help="spectrogram cache and per-fold scratch")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--fold-seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: the config's first seed)")
    p.add_argument("--recipes", default="default,blog", help="comma-separated: default, blog")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs of every recipe (quick runs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=YAML", help="override a train.* key of the default recipe")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="write the table (markdown) here")
    p.add_argument("--json", default=None, help="write per-fold results here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.folds < 3:
        raise SystemExit("--folds must be at least 3: one fold to test, one to validate, the rest to train")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    base = recipe_config("default")
    genres = base["genres"]
    tracks, _ = discover_tracks(args.data, genres)
    folds = stratified_folds(tracks, args.folds, args.fold_seed)
    work = Path(args.work_dir)
    results: dict[str, list[dict]] = {}
    wall = time.perf_counter()
    for recipe in recipes:
        config = recipe_config(recipe)
        if args.epochs:
            config["train"]["epochs"] = args.epochs
        if recipe == "default":
            for item in args.set:
                key, value = item.split("=", 1)
                config["train"][key] = yaml.safe_load(value)
        seed = args.seed if args.seed is not None else config["train"]["seeds"][0]
        spec = SpectrogramParams.from_config(config["spectrogram"])
        t0 = time.perf_counter()
        pngs = featurise(tracks, spec, work / "spectrograms")
        log.info("%s: %d spectrograms ready in %.0f s", recipe, len(pngs), time.perf_counter() - t0)
        results[recipe] = []
        for fold in range(args.folds):
            rows = manifest_rows(tracks, folds, fold, args.folds, pngs)
            outcome = run_fold(recipe, config, rows, genres, seed, work / "runs" / recipe / f"fold{fold}", args.threads)
            log.info("%s fold %d: %s", recipe, fold, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in outcome.items()}))
            results[recipe].append(outcome)
    wall = time.perf_counter() - wall
    text = "\n\n".join([
        table(results),
        per_fold(results),
        f"{len(tracks)} tracks in {args.data}, {args.folds} folds (fold seed {args.fold_seed}), "
        f"wall time {wall / 60:.1f} min on {os.cpu_count()} CPU(s), {platform.machine()}.",
        "Command: `" + " ".join(["python", "bench/kfold.py", *(argv if argv is not None else sys.argv[1:])]) + "`",
    ])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "wall_s": wall, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
