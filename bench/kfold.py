"""Cross-validation of recipes on a GTZAN-layout folder, through the workflow's own experiments
(`config/presets/compare.yaml`: the default recipe against the blog's, 5 folds by track, 3
training seeds per fold): one `snakemake --cores 2` call, every variant x fold x seed its own job.
Prints the comparison table as markdown.

Usage: python bench/kfold.py [--data ../shared/data/gtzan-dev] [--work /tmp/genreflow-kfold]
                             [--configfile more.yaml ...]   (more variants, other seeds, ...)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from common import REPO, machine, run_timed, table, workflow_command

COLUMNS = {
    "test_track_accuracy": "test track accuracy",
    "test_window_accuracy": "test window accuracy",
    "test_macro_f1": "test macro-F1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/gtzan-dev")
    parser.add_argument("--work", type=Path, default=Path("/tmp/genreflow-kfold"))
    parser.add_argument(
        "--configfile", nargs="*", default=[], help="more config files on top of compare.yaml"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "data.yaml").write_text(f"audio_dir: {args.data.resolve()}\n")
    configs = [
        str(REPO / "config/presets/compare.yaml"),
        str(args.work / "data.yaml"),
        *map(os.path.abspath, args.configfile),
    ]
    cmd = workflow_command(
        args.work, "--configfile", *configs, "--", "results/experiments/comparison.tsv"
    )
    wall, rss = run_timed(cmd, env={"OPENBLAS_NUM_THREADS": "1"})
    from genreflow.tables import read_table

    result = read_table(args.work / "results/experiments/comparison.tsv")
    rows = []
    for _, r in result.iterrows():
        cells = [
            f"{float(r[f'{k}_mean']):.1%} ± {float(r[f'{k}_std']):.1%}"
            if "f1" not in k
            else f"{float(r[f'{k}_mean']):.3f} ± {float(r[f'{k}_std']):.3f}"
            for k in COLUMNS
        ]
        rows.append(
            [
                r["variant"],
                r["runs"],
                *cells,
                f"{float(r['test_track_accuracy_seed_ensemble']):.1%}",
                f"{float(r['val_track_accuracy_mean']):.1%}",
                f"{float(r['train_s_mean']):.0f}",
            ]
        )
    log = (args.work / "results/logs/experiments/folds.log").read_text().splitlines()
    kind = [line for line in log if line.startswith("folds: ")][-1].removeprefix("folds: ")
    print(
        f"{args.data}: {result['folds'][0]}-fold cross-validation ({kind}), on {machine()}; "
        f"wall {wall:.0f} s, peak RSS {rss:.0f} MiB\n"
    )
    print(
        table(
            [
                "variant",
                "runs",
                *COLUMNS.values(),
                "test track accuracy, seed ensemble",
                "val track accuracy (picked the epoch)",
                "train s / run",
            ],
            rows,
        )
    )
    variants = list(result["variant"])
    print(f"\nPaired by fold and seed, {variants[0]} against the others (test track accuracy):\n")
    print(paired_table(args.work / "results/experiments", variants))


def run_accuracies(experiments: Path, variant: str) -> dict[tuple[str, str], float]:
    """(fold, seed) -> test track accuracy of one variant's runs."""
    runs = {}
    for path in sorted(experiments.glob(f"variant~{variant}/fold~*/seed~*/metrics.json")):
        metrics = json.loads(path.read_text())
        runs[(str(metrics["fold"]), str(metrics["seed"]))] = metrics["test"]["track_accuracy"]
    return runs


def paired_table(experiments: Path, variants: list[str]) -> str:
    """The first variant's gain over each other one on the same folds and seeds: mean, its
    standard error (std of the differences / sqrt(n)), and how many runs were better or worse."""
    first = run_accuracies(experiments, variants[0])
    rows = []
    for other in variants[1:]:
        theirs = run_accuracies(experiments, other)
        gains = np.array([first[k] - theirs[k] for k in sorted(first.keys() & theirs.keys())])
        se = gains.std(ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else float("nan")
        rows.append(
            [
                f"{variants[0]} - {other}",
                len(gains),
                f"{gains.mean():+.1%} (SE {se:.1%})",
                int((gains > 0).sum()),
                int((gains < 0).sum()),
            ]
        )
    return table(["pair", "runs", "mean gain (standard error)", "better", "worse"], rows)


if __name__ == "__main__":
    main()
