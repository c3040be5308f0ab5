"""Bad configuration fails at start-up (a dry run), with a message that names the key (issue 5).

Schema errors come from snakemake.utils.validate (they name the property); data-dependent ones
are genreflow.plan.ConfigError, whose message starts with the key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import make_dataset, run_snakemake
from genreflow.split import Entry, split_by_hash

GENRES = ["blues", "jazz", "rock"]
DEFAULT_RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
DEFAULT_SPLIT_SEED = 1337


def numbers_in(genre: str, split: str, count: int) -> list[int]:
    """Track numbers whose default hash split is ``split`` (the split only depends on the id)."""
    found, i = [], 0
    while len(found) < count:
        track = f"{genre}.{i:05d}"
        if split_by_hash([Entry(track, genre, "")], DEFAULT_RATIOS, DEFAULT_SPLIT_SEED)[track] == split:
            found.append(i)
        i += 1
    return found


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Three genres of six short clips each: enough for a valid default (hash) split."""
    root = tmp_path_factory.mktemp("config_errors")
    make_dataset(root / "audio", GENRES, 6, seconds=0.5)
    return root


def dry_run(workdir: Path, overrides: dict) -> str:
    """Dry run with ``overrides`` on top of a valid config; returns all output, asserting failure."""
    config = {"audio_dir": "audio", "genres": GENRES, **overrides}
    cfg = workdir / "case.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", str(cfg), check=False, timeout=120)
    assert proc.returncode != 0, f"expected a start-up failure for {overrides}:\n{proc.stdout[-3000:]}"
    assert not (workdir / "results").exists(), "a failing start-up must not have run anything"
    return proc.stdout + proc.stderr


def test_the_base_config_is_valid(dataset):
    """Guards the cases below: they fail because of their override, not because of the base."""
    cfg = dataset / "base.yaml"
    cfg.write_text(yaml.safe_dump({"audio_dir": "audio", "genres": GENRES}))
    proc = run_snakemake(dataset, "-n", "--cores", "1", "--configfile", str(cfg), timeout=120)
    assert "spectrograms_" in proc.stdout


@pytest.mark.parametrize(
    "overrides, expected",
    [
        pytest.param({"featurise": {"block_size": 1}}, ["'featurise' was unexpected"], id="unknown-top-level-key"),
        pytest.param({"train": {"epoch": 3}}, ["'epoch' was unexpected"], id="unknown-nested-key"),
        pytest.param({"featurize": {"block_size": "ten"}}, ["'ten' is not of type 'integer'", "['block_size']"], id="wrong-type"),
        pytest.param({"genres": "blues"}, ["is not of type 'array'", "['genres']"], id="wrong-type-genres"),
        # results/predict/../x.csv would land outside results/predict
        pytest.param({"predict": {"name": ".."}}, ["'..' does not match", "['name']"], id="predict-name-dotdot"),
        pytest.param({"predict": {"name": "a/b"}}, ["'a/b' does not match", "['name']"], id="predict-name-slash"),
    ],
)
def test_schema_errors_name_the_key(dataset, overrides, expected):
    output = dry_run(dataset, overrides)
    assert "Error validating config file" in output
    for fragment in expected:
        assert fragment in output, output[-3000:]


def test_unknown_genre(dataset):
    output = dry_run(dataset, {"genres": [*GENRES, "polka"]})
    assert "Invalid configuration: genres: no folder for ['polka']" in output


def test_missing_audio_dir(dataset):
    output = dry_run(dataset, {"audio_dir": "no/such/folder"})
    assert "Invalid configuration: audio_dir: 'no/such/folder' is not a folder" in output


def test_audio_dir_with_braces(dataset):
    (dataset / "a{b}").mkdir(exist_ok=True)
    output = dry_run(dataset, {"audio_dir": "a{b}"})
    assert "Invalid configuration: audio_dir: 'a{b}' contains '{' or '}'" in output


def test_empty_dataset(dataset):
    empty = dataset / "empty"
    for genre in GENRES:
        (empty / genre).mkdir(parents=True, exist_ok=True)
    (empty / "blues" / "notes.txt").write_text("not audio")
    output = dry_run(dataset, {"audio_dir": "empty"})
    assert "Invalid configuration: audio_dir: no usable track in 'empty' (empty dataset)" in output


def test_empty_dataset_when_every_file_is_rejected(dataset):
    broken = dataset / "broken"
    for genre in GENRES:
        (broken / genre).mkdir(parents=True, exist_ok=True)
        (broken / genre / f"{genre}.00000.wav").write_bytes(b"")
    output = dry_run(dataset, {"audio_dir": "broken"})
    assert "audio_dir: no usable track in 'broken'" in output
    assert "empty file (0 bytes)" in output  # the start-up warning names each rejected file


def test_genre_with_too_few_tracks(dataset):
    few = dataset / "few"
    make_dataset(few, ["blues", "jazz"], 6, seconds=0.5)
    make_dataset(few, ["rock"], 2, seconds=0.5)
    output = dry_run(dataset, {"audio_dir": "few"})
    assert "Invalid configuration: genres: too few usable tracks to split into 3 parts: {'rock': 2}" in output


def test_genre_the_hash_split_leaves_without_training_tracks(dataset):
    """Enough tracks for three parts, but every one of them hashes into val or test."""
    skewed = dataset / "skewed"
    make_dataset(skewed, ["blues", "jazz"], 6, seconds=0.5)
    from conftest import write_audio
    from genreflow.demo import synthesize

    for n in numbers_in("rock", "val", 2) + numbers_in("rock", "test", 2):
        write_audio(skewed / "rock" / f"rock.{n:05d}.wav", synthesize(9, n, 0.5, 22050, 1))
    output = dry_run(dataset, {"audio_dir": "skewed"})
    assert "Invalid configuration: split: genre 'rock' has no training track" in output


def test_ratios_must_add_up_to_one(dataset):
    output = dry_run(dataset, {"split": {"ratios": {"train": 0.5, "val": 0.2, "test": 0.2}}})
    assert "Invalid configuration: split.ratios: must add up to 1, not 0.9" in output
