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
CNN = {"spectrogram": {"kind": "logmel"}, "train": {"recipe": "cnn"}}
DEFAULT_RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
DEFAULT_SPLIT_SEED = 1337


def numbers_in(genre: str, split: str, count: int) -> list[int]:
    """Track numbers whose default hash split is ``split`` (the split only depends on the id)."""
    found, i = [], 0
    while len(found) < count:
        track = f"{genre}.{i:05d}"
        if (
            split_by_hash([Entry(track, genre, "")], DEFAULT_RATIOS, DEFAULT_SPLIT_SEED)[track]
            == split
        ):
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
    # the cnn recipe's log-mel settings, which most cases below get wrong on purpose
    config = {"audio_dir": "audio", "genres": GENRES, **CNN, **overrides}
    for section in ("spectrogram", "train"):
        config[section] = {**CNN[section], **overrides.get(section, {})}
    cfg = workdir / "case.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = run_snakemake(
        workdir, "-n", "--cores", "1", "--configfile", str(cfg), check=False, timeout=120
    )
    assert proc.returncode != 0, (
        f"expected a start-up failure for {overrides}:\n{proc.stdout[-3000:]}"
    )
    assert not (workdir / "results").exists(), "a failing start-up must not have run anything"
    return proc.stdout + proc.stderr


def test_the_base_config_is_valid(dataset):
    """Guards the cases below: they fail because of their override, not because of the base."""
    cfg = dataset / "base.yaml"
    cfg.write_text(yaml.safe_dump({"audio_dir": "audio", "genres": GENRES, **CNN}))
    proc = run_snakemake(dataset, "-n", "--cores", "1", "--configfile", str(cfg), timeout=120)
    assert "spectrograms_" in proc.stdout


@pytest.mark.parametrize(
    "overrides, expected",
    [
        pytest.param(
            {"featurise": {"block_size": 1}},
            ["'featurise' was unexpected"],
            id="unknown-top-level-key",
        ),
        pytest.param({"train": {"epoch": 3}}, ["'epoch' was unexpected"], id="unknown-nested-key"),
        pytest.param(
            {"featurize": {"block_size": "ten"}},
            ["'ten' is not of type 'integer'", "['block_size']"],
            id="wrong-type",
        ),
        pytest.param(
            {"genres": "blues"}, ["is not of type 'array'", "['genres']"], id="wrong-type-genres"
        ),
        # results/predict/../x.csv would land outside results/predict
        pytest.param(
            {"predict": {"name": ".."}},
            ["'..' does not match", "['name']"],
            id="predict-name-dotdot",
        ),
        pytest.param(
            {"predict": {"name": "a/b"}},
            ["'a/b' does not match", "['name']"],
            id="predict-name-slash",
        ),
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
    assert (
        "Invalid configuration: genres: too few usable tracks to split into 3 parts: {'rock': 2}"
        in output
    )


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


# --- settings the schema accepts but that cannot give a meaningful result (issue 11) ----------


@pytest.mark.parametrize(
    "overrides, expected",
    [
        pytest.param(
            {"spectrogram": {"fmin": 5000.0, "fmax": 4000.0}},
            "spectrogram.fmin: 5000 Hz must be below spectrogram.fmax (4000 Hz)",
            id="fmin-above-fmax",
        ),
        pytest.param(
            {"spectrogram": {"fmin": 4000.0, "fmax": 4000.0}},
            "spectrogram.fmin: 4000 Hz must be below",
            id="fmin-equals-fmax",
        ),
        pytest.param(
            {"spectrogram": {"sample_rate": 16000}},
            "spectrogram.fmax: 11025 Hz is above half the sample rate (8000 Hz)",
            id="fmax-above-nyquist",
        ),
        pytest.param(
            {"spectrogram": {"db_min": 10.0, "db_max": -10.0}},
            "spectrogram.db_min: 10 dB must be below spectrogram.db_max (-10 dB)",
            id="db-range-inverted",
        ),
        pytest.param(
            {"spectrogram": {"n_fft": 256}},
            "spectrogram.n_fft: 256 is too small for spectrogram.n_mels 128",
            id="n_fft-too-small-for-n_mels",
        ),
        pytest.param(
            {"spectrogram": {"n_mels": 512, "fmax": 2000.0}},
            "spectrogram.n_fft: 2048 is too small for spectrogram.n_mels 512 between 0 and 2000 Hz: 150 mel band(s)",
            id="too-many-mels-in-a-narrow-range",
        ),
        pytest.param(
            {"spectrogram": {"duration_s": 2.0}},
            "spectrogram.duration_s: 2 s is shorter than train.window_s (3 s)",
            id="clip-shorter-than-window",
        ),
        pytest.param(
            {"spectrogram": {"duration_s": 0.01}},
            "spectrogram.duration_s: 0.01 s is shorter than one hop",
            id="one-column-picture",
        ),
        pytest.param(
            {
                "spectrogram": {"kind": "blog_specgram", "duration_s": 0.05},
                "train": {"recipe": "blog"},
            },
            "spectrogram.duration_s: 0.05 s is shorter than the blog picture's 2048-sample FFT",
            id="blog-clip-shorter-than-its-fft",
        ),
        pytest.param(
            {"train": {"filters": [8, 8, 8, 8, 8, 8, 8]}},
            "train.filters: 7 blocks halve the 64 mel bands",
            id="network-deeper-than-the-bands",
        ),
        pytest.param(
            {"train": {"window_s": 0.2, "eval_hop_s": 0.1}},
            "train.window_s: 0.2 s (9 frames, 4 after train.input_pool) is too short",
            id="window-too-short-for-the-network",
        ),
    ],
)
def test_impossible_settings_stop_at_start_up_naming_the_key(dataset, overrides, expected):
    output = dry_run(dataset, overrides)
    assert f"Invalid configuration: {expected}" in output, output[-3000:]


def test_the_mel_band_check_agrees_with_librosa():
    librosa = pytest.importorskip("librosa")
    from genreflow.config import empty_mel_bands

    for rate, n_fft, n_mels, fmin, fmax in [
        (22050, 2048, 128, 0.0, 11025.0),
        (22050, 512, 128, 0.0, 11025.0),
        (22050, 1024, 128, 0.0, 11025.0),
        (22050, 2048, 256, 0.0, 11025.0),
        (16000, 512, 64, 50.0, 8000.0),
        (22050, 4096, 300, 20.0, 8000.0),
        (8000, 256, 16, 0.0, 4000.0),
        (44100, 2048, 128, 0.0, 22050.0),
    ]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns about exactly what is counted here
            bank = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert empty_mel_bands(rate, n_fft, n_mels, fmin, fmax) == int(
            (bank.max(axis=1) == 0).sum()
        ), (rate, n_fft, n_mels)


def test_nested_config_overrides_on_the_command_line_keep_their_types(dataset):
    """The forms the README shows: values inside braces and a lower-case boolean."""
    cfg = dataset / "base.yaml"
    cfg.write_text(yaml.safe_dump({"audio_dir": "audio", "genres": GENRES, **CNN}))
    run_snakemake(
        dataset,
        "results/spectrograms/settings.json",
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        "--config",
        "spectrogram={n_mels: 96, fmax: 8000.0}",
        "strict=true",
        timeout=120,
    )
    import json

    settings = json.loads((dataset / "results/spectrograms/settings.json").read_text())
    assert settings["n_mels"] == 96 and settings["fmax"] == 8000.0 and settings["n_fft"] == 2048
    proc = run_snakemake(
        dataset,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        "--config",
        "spectrogram={n_mels: lots}",
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0 and "'lots' is not of type 'integer'" in proc.stdout + proc.stderr


def test_variant_overrides_on_the_command_line_keep_their_types(dataset):
    """A variant's overrides inside --config braces arrive as strings too; a wrong one is still named."""
    cfg = dataset / "base.yaml"
    cfg.write_text(yaml.safe_dump({"audio_dir": "audio", "genres": GENRES, **CNN}))
    variants = "experiments={variants: {short: {train: {epochs: 5, dropout: 0.5}}}, cv: {folds: 3}}"
    proc = run_snakemake(
        dataset,
        "--summary",
        "--configfile",
        str(cfg),
        "--config",
        variants,
        "--",
        "results/experiments/comparison.tsv",
        timeout=120,
    )
    assert "results/experiments/variant~short/fold~2/seed~42/metrics.json" in proc.stdout
    wrong = "experiments={variants: {short: {train: {epochs: lots}}}}"
    proc = run_snakemake(
        dataset,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        "--config",
        wrong,
        check=False,
        timeout=120,
    )
    assert (
        proc.returncode != 0
        and "experiments.variants.short" in proc.stdout + proc.stderr
        and "'lots' is not of type 'integer'" in proc.stdout + proc.stderr
    )


def test_cli_strings_become_the_types_the_schema_asks_for():
    from genreflow.config import coerce_cli_strings

    schema = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "config/schema.yaml").read_text()
    )
    given = {
        "strict": "true",
        "spectrogram": {"n_mels": "96", "fmax": "8000", "db_min": "-70.5", "kind": "logmel"},
        "train": {"filters": ["8", "16"], "mixed_precision": "on", "seeds": ["1", "2"]},
        "audio_dir": "123",
    }
    assert coerce_cli_strings(given, schema) == {
        "strict": True,
        "spectrogram": {"n_mels": 96, "fmax": 8000, "db_min": -70.5, "kind": "logmel"},
        "train": {"filters": [8, 16], "mixed_precision": "on", "seeds": [1, 2]},
        "audio_dir": "123",
    }
