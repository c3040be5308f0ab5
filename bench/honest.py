"""The honest table: recipes scored both ways, through the workflow itself.

(a) Cross-validation on gtzan-dev through the experiments workflow (as `bench/kfold.py`): the
    recipes as variants x folds x seeds, with folds random by track (`split.group_by: none`) and,
    with `--cv random artist`, folds that keep an artist in one fold (`split.group_by: artist`,
    the shipped GTZAN artist table; genres with fewer artists than folds fall back to by track,
    and the table says which).
(b) Trained on gtzan-dev (a sample sheet with a split column: per genre the four lowest track
    numbers train, the fifth validates), then the `predict` target on gtzan-other-artists (other
    artists' blues and jazz, GTZAN clips gtzan-dev does not hold): recall per genre with its 95 %
    Wilson interval, and the full confusion rows (what the misses were called).

Recipes are names: `default` (the configured default, the pretrained musicnn recipe), a preset
of config/presets (`cnn`, `blog`),
a YAML file, or `name={train: {...}}` overrides. Prints markdown tables.

Usage: python bench/honest.py [--recipes default blog] [--seeds 1 2 3] [--folds 5]
                              [--cv random artist] [--work /tmp/genreflow-honest]
                              [--dev ../shared/data/gtzan-dev]
                              [--other ../shared/data/gtzan-other-artists]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import yaml
from common import GENRES, REPO, machine, run_timed, table, workflow_command

SHARED = REPO.parent / "shared/data"
CV_GROUPING = {"random": "none", "artist": "artist"}


def recipe(name: str) -> tuple[str, str | dict]:
    """(label, variant spec): {} for default, a preset file's path, a YAML file, or overrides."""
    if "=" in name:
        label, spec = name.split("=", 1)
        loaded = yaml.safe_load(spec)
        return label, loaded if isinstance(loaded, dict) else str(Path(spec).resolve())
    if name == "default":
        return name, {}
    preset = REPO / "config/presets" / f"{name}.yaml"
    if preset.exists():
        return name, str(preset)
    if Path(name).exists():
        return Path(name).stem, str(Path(name).resolve())
    raise SystemExit(f"recipe '{name}': not default, a preset of config/presets or a YAML file")


def snakemake(workdir: Path, *args: str) -> float:
    cmd = workflow_command(workdir, *args)
    wall, _ = run_timed(cmd, env={"OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
    return wall


def cross_validation(args, recipes: dict[str, str | dict], grouping: str) -> tuple[list, float]:
    """Rows of the CV table for one kind of folds."""
    work = args.work / f"cv-{grouping}"
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "audio_dir": str(args.dev.resolve()),
        "split": {"group_by": CV_GROUPING[grouping]},
        "experiments": {
            "variants": recipes,
            "cv": {"folds": args.folds, "seed": 1337},
            "seeds": args.seeds,
        },
    }
    (work / "honest.yaml").write_text(yaml.safe_dump(config))
    wall = snakemake(
        work, "--configfile", str(work / "honest.yaml"), "--", "results/experiments/comparison.tsv"
    )
    from genreflow.tables import read_table

    log = (work / "results/logs/experiments/folds.log").read_text().splitlines()
    kind = [line for line in log if line.startswith("folds: ")][-1].removeprefix("folds: ")
    rows = []
    for _, r in read_table(work / "results/experiments/comparison.tsv").iterrows():
        rows.append(
            [
                r["variant"],
                f"{args.folds} folds, {kind}",
                r["runs"],
                f"{float(r['test_track_accuracy_mean']):.1%} ± {float(r['test_track_accuracy_std']):.1%}",
                f"{float(r['test_track_accuracy_seed_ensemble']):.1%}",
                f"{float(r['test_macro_f1_mean']):.3f}",
            ]
        )
    return rows, wall


def dev_sheet(dev: Path, path: Path) -> None:
    """gtzan-dev as a sample sheet: per genre the four lowest numbers train, the fifth validates."""
    lines = ["path\tgenre\tsplit"]
    for genre in GENRES:
        clips = sorted((dev / genre).glob(f"{genre}.*.wav"))
        for i, clip in enumerate(clips):
            lines.append(f"{clip.resolve()}\t{genre}\t{'val' if i == len(clips) - 1 else 'train'}")
    path.write_text("\n".join(lines) + "\n")


def other_artists(args, label: str, spec: str | dict) -> tuple[dict, float]:
    """Train on gtzan-dev (4 + 1 per genre), classify gtzan-other-artists; the confusion rows."""
    work = args.work / f"other-{label}"
    work.mkdir(parents=True, exist_ok=True)
    dev_sheet(args.dev, work / "dev.tsv")
    base = {
        "tracks": str(work / "dev.tsv"),
        "genres": GENRES,
        "split": {"ratios": {"train": 0.8, "val": 0.2, "test": 0.0}},  # the sheet decides
        "train": {"seeds": args.seeds},
        "predict": {"audio_dir": str(args.other.resolve()), "name": "other_artists"},
    }
    (work / "base.yaml").write_text(yaml.safe_dump(base))
    configs = [str(work / "base.yaml")]
    if isinstance(spec, dict):
        (work / "recipe.yaml").write_text(yaml.safe_dump(spec))
        configs.insert(0, str(work / "recipe.yaml"))
    else:
        configs.insert(0, spec)
    # the recipe first, the data on top (a preset's split.ratios do not matter: the sheet decides)
    wall = snakemake(work, "predict", "--configfile", *configs)
    from genreflow.metrics import wilson_interval
    from genreflow.predict import read_predictions_csv

    rows = read_predictions_csv(work / "results/predict/other_artists.csv")
    confusion: dict[str, Counter] = {}
    for row in rows:
        truth = Path(row["file"]).parts[0]
        confusion.setdefault(truth, Counter())[row["top_genre"]] += 1
    metrics = json.loads((work / "results/metrics/metrics.json").read_text())
    val = metrics["splits"]["val"]["ensemble"]
    recall = {}
    for genre, counts in confusion.items():
        n, hit = sum(counts.values()), counts[genre]
        recall[genre] = (hit, n, wilson_interval(hit, n))
    return {"confusion": confusion, "recall": recall, "val": val}, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["default", "cnn", "blog"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--cv", nargs="*", choices=sorted(CV_GROUPING), default=["random", "artist"]
    )
    parser.add_argument("--dev", type=Path, default=SHARED / "gtzan-dev")
    parser.add_argument("--other", type=Path, default=SHARED / "gtzan-other-artists")
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-honest"))
    args = parser.parse_args()
    recipes = dict(recipe(name) for name in args.recipes)
    started = time.perf_counter()
    print(f"# The honest table: {', '.join(recipes)}; seeds {args.seeds}; {machine()}\n")

    walls = {}
    cv_rows = []
    for grouping in args.cv:
        rows, walls[f"cv {grouping}"] = cross_validation(args, recipes, grouping)
        cv_rows += rows
    if cv_rows:
        print(f"## (a) {args.folds}-fold cross-validation on {args.dev.name} (test folds)\n")
        print(
            table(
                [
                    "recipe",
                    "folds",
                    "runs",
                    "test track accuracy (mean ± std over folds x seeds)",
                    "seed ensemble",
                    "test macro-F1",
                ],
                cv_rows,
            )
            + "\n"
        )

    results = {}
    for label, spec in recipes.items():
        results[label], walls[f"other {label}"] = other_artists(args, label, spec)
    shown = sorted({g for r in results.values() for g in r["confusion"]})
    print(
        f"## (b) trained on {args.dev.name} (4 clips a genre train, 1 validates), "
        f"classifying {args.other.name} (other artists' clips)\n"
    )
    rows = []
    for label, r in results.items():
        cells = []
        for genre in shown:
            hit, n, (low, high) = r["recall"][genre]
            cells.append(f"{hit / n:.1%} ({hit} of {n}; 95% CI {low:.0%}-{high:.0%})")
        val = r["val"]
        rows.append(
            [
                label,
                *cells,
                f"{val['track_accuracy']:.0%} ({round(val['track_accuracy'] * val['n_tracks'])} of {val['n_tracks']})",
            ]
        )
    print(
        table(
            [
                "recipe",
                *(f"{g} recall" for g in shown),
                f"val accuracy on {args.dev.name}'s held-out clips",
            ],
            rows,
        )
        + "\n"
    )
    print(
        f"Confusion rows (true genre: what its clips were called; `predict` uses the first seed's "
        f"model, seed {args.seeds[0]}):\n"
    )
    rows = [
        [
            label,
            genre,
            sum(r["confusion"][genre].values()),
            *(r["confusion"][genre][g] or "" for g in GENRES),
        ]
        for label, r in results.items()
        for genre in shown
    ]
    print(table(["recipe", "true genre", "clips", *GENRES], rows) + "\n")
    print(
        "Wall time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in walls.items())
        + f"; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
