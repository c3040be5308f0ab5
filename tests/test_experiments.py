"""Experiments as a DAG (issue 13): variant configurations, folds by track stratified by genre,
the test fold never used for training or early stopping, one job per variant x fold x seed, and
the comparison table and plot."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml
from conftest import REPO, make_dataset, run_snakemake

from genreflow.experiments import (
    assign_folds,
    deep_merge,
    fold_manifest,
    fold_roles,
    variant_config,
)
from genreflow.tables import read_table

GENRES = ["blues", "jazz", "rock"]


def test_variant_configs_merge_overrides_and_presets_key_by_key():
    base = {
        "train": {"epochs": 30, "filters": [16, 32], "recipe": "cnn"},
        "split": {"method": "hash"},
        "experiments": {"variants": {"x": {}}},
    }
    wider = variant_config(base, {"train": {"filters": [32, 64]}})
    assert wider["train"] == {"epochs": 30, "filters": [32, 64], "recipe": "cnn"} and wider[
        "split"
    ] == {"method": "hash"}
    assert "experiments" not in wider, "a variant holds no experiments of its own"
    assert base["train"]["filters"] == [16, 32], "the run's configuration is left as it is"
    blog = variant_config(base, "config/presets/blog.yaml", REPO)
    assert (
        blog["train"]["recipe"] == "blog"
        and blog["train"]["epochs"] == 50
        and blog["spectrogram"]["kind"] == "blog_specgram"
    )
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_a_missing_preset_or_a_variant_with_experiments_of_its_own_is_refused(tmp_path):
    from genreflow.config import ConfigError

    base = {"train": {"epochs": 30}, "experiments": {"variants": {"x": {}}}}
    with pytest.raises(ConfigError, match="^preset file 'no/such.yaml' does not exist$"):
        variant_config(base, "no/such.yaml", REPO)
    with pytest.raises(ConfigError, match="^overrides 'experiments' itself"):
        variant_config(base, {"experiments": {"cv": {"folds": 3}}})
    with pytest.raises(ConfigError, match="^overrides 'experiments' itself"):
        variant_config(base, "config/presets/compare.yaml", REPO)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="holds no mapping of settings"):
        variant_config(base, str(tmp_path / "list.yaml"))


def test_folds_are_disjoint_stratified_seeded_and_cover_every_track():
    tracks = [(f"{g}.{i:05d}", g, f"{g}.{i:05d}.png") for g in GENRES for i in range(7)]
    folds = assign_folds(tracks, 5, seed=1337)
    assert set(folds) == {key for key, _, _ in tracks}, "every track in exactly one fold"
    for genre in GENRES:
        sizes = Counter(f for key, f in folds.items() if key.startswith(genre))
        assert sorted(sizes.values()) == [1, 1, 1, 2, 2], "7 tracks of a genre over 5 folds"
    assert assign_folds(tracks, 5, seed=1337) == folds
    assert assign_folds(tracks, 5, seed=1) != folds


@pytest.mark.parametrize("fold", range(5))
def test_the_test_fold_never_reaches_training_or_early_stopping(fold):
    roles = fold_roles(fold, 5)
    assert roles[fold] == "test" and roles[(fold + 1) % 5] == "val"
    assert sorted(roles.values()) == ["test", "train", "train", "train", "val"]
    folds = {f"t{i}": i % 5 for i in range(20)}
    records = [
        {"key": k, "label": "g", "png": f"{k}.png", "png_sha256": "x", "status": "ok"}
        for k in folds
    ]
    records.append(
        {"key": "rejected", "label": "g", "png": "", "png_sha256": "", "status": "rejected"}
    )
    rows = fold_manifest(folds, records, fold, 5)
    assert {r["track"] for r in rows if r["split"] == "test"} == {
        k for k, f in folds.items() if f == fold
    }
    assert all(folds[r["track"]] != fold for r in rows if r["split"] in ("train", "val"))
    assert "rejected" not in {r["track"] for r in rows}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Two variants x 3 folds x 2 seeds on 6 tiny clips per genre, from one snakemake call."""
    root = tmp_path_factory.mktemp("experiments")
    make_dataset(root / "audio", GENRES, 6, seconds=3.0)
    tiny = {
        "recipe": "cnn",
        "epochs": 2,
        "batch_size": 8,
        "filters": [4],
        "window_s": 1.0,
        "eval_hop_s": 1.0,
        "windows_per_track": 2,
        "min_steps_per_epoch": 1,
        "patience": 5,
    }
    (root / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "audio_dir": "audio",
                "genres": GENRES,
                "spectrogram": {"kind": "logmel", "duration_s": 3.0},
                "train": tiny,
                "experiments": {
                    "variants": {"small": {}, "wider": {"train": {"filters": [8, 8]}}},
                    "cv": {"folds": 3, "seed": 7},
                    "seeds": [1, 2],
                },
            }
        )
    )
    proc = run_snakemake(
        root,
        "results/experiments/comparison.tsv",
        "--cores",
        "2",
        "--configfile",
        str(root / "config.yaml"),
        timeout=900,
    )
    return root, proc


def test_every_variant_fold_and_seed_is_its_own_job(compared):
    root, proc = compared
    out = proc.stdout + proc.stderr
    assert out.count("localrule experiment:") == 2 * 3 * 2
    runs = sorted(root.glob("results/experiments/variant~*/fold~*/seed~*/metrics.json"))
    assert len(runs) == 12
    for path in runs:
        run = json.loads(path.read_text())
        assert {"test", "val", "train_s", "variant", "fold", "seed"} <= set(run)
        assert run["test"]["n_tracks"] == 6 and run["val"]["n_tracks"] == 6, (
            "3 folds of 2 tracks per genre"
        )


def test_the_comparison_table_and_plot(compared):
    root, _ = compared
    table = read_table(root / "results/experiments/comparison.tsv")
    assert list(table["variant"]) == ["small", "wider"]
    assert (
        set(table["runs"]) == {"6"}
        and set(table["folds"]) == {"3"}
        and set(table["seeds"]) == {"2"}
    )
    for column in (
        "test_track_accuracy_mean",
        "test_track_accuracy_std",
        "test_window_accuracy_mean",
        "test_macro_f1_mean",
        "test_track_accuracy_seed_ensemble",
        "val_track_accuracy_mean",
        "train_s_mean",
    ):
        assert all(float(v) >= 0 for v in table[column]), column
    runs = [
        json.loads(p.read_text())
        for p in root.glob("results/experiments/variant~small/*/*/metrics.json")
    ]
    assert float(table["test_track_accuracy_mean"][0]) == pytest.approx(
        sum(r["test"]["track_accuracy"] for r in runs) / 6, abs=1e-4
    )
    from genreflow.pngio import read_png

    assert read_png(root / "results/experiments/comparison.png").ndim == 3
    folds = read_table(root / "results/experiments/folds.tsv")
    assert folds.groupby(["fold", "genre"]).size().tolist() == [2] * 9


def test_variants_with_other_spectrogram_settings_get_their_own_readable_set(tmp_path):
    """No settings hash in rule names or folders: the set is named after its first variant, and
    variants with the run's settings share the run's PNGs (a dry run only)."""
    make_dataset(tmp_path / "audio", GENRES, 6, seconds=1.0)
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "audio_dir": "audio",
                "genres": GENRES,
                "spectrogram": {"kind": "logmel", "duration_s": 1.0},
                "train": {"recipe": "cnn", "window_s": 1.0, "eval_hop_s": 1.0, "filters": [4]},
                "experiments": {
                    "variants": {
                        "same": {},
                        "narrow-mel": {"spectrogram": {"n_mels": 64}},
                        "narrow-too": {"spectrogram": {"n_mels": 64}},
                    },
                    "cv": {"folds": 3},
                },
            }
        )
    )
    args = ("--configfile", str(tmp_path / "config.yaml"))
    rules = set(run_snakemake(tmp_path, "--list-rules", *args, timeout=120).stdout.split())
    assert {
        "spectrograms_for_narrow-mel",
        "spectrograms_for_narrow-mel_00000",
        "spectrograms_for_narrow-mel_index",
    } <= rules
    assert not any("narrow-too" in r or r.startswith("spectrograms_for_same") for r in rules)
    planned = run_snakemake(tmp_path, "-n", "results/experiments/comparison.tsv", *args)
    out = planned.stdout + planned.stderr
    assert "results/experiments/spectrograms/narrow-mel/blues/blues.00000.png" in out
    assert "results/spectrograms/blues/blues.00000.png" in out
