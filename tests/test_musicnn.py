"""musicnn in Keras 3 (issue 17): the port against the musicnn wheel's own TF1 graph, on real and
synthetic clips, on TensorFlow and on JAX; the input representation against the wheel's formula;
the conversion of the wheel's checkpoints.

The wheel's graph, the conversion and each Keras backend run in processes of their own
(tests/musicnn_driver.py); this process only computes the inputs and compares.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import SHARED_DATA, run_snakemake, tone, write_audio

from genreflow import musicnn

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None or importlib.util.find_spec("tf_keras") is None,
    reason="needs the musicnn wheel and tf-keras (tools/setup.sh --dev)",
)

DRIVER = Path(__file__).with_name("musicnn_driver.py")
TOLERANCE = 1e-4  # max abs difference, the target
EXACT = ("mean_pool", "penultimate", "taggram")
# Features whose values reach ~100 (max_pool; the frame-level timbral ... cnn3): there float32
# itself is off by more than 1e-4. Measured on the real clips below, the wheel's own graph
# differs from the same network in float64 by up to 1.7e-4 on max_pool (cnn3: 2.0e-4; values
# to 106), as much as the port does; the rounding of long convolution sums, scaled up by the
# batch norms, depends on the order each library sums in. These must agree to 1e-4 or to 1e-5
# of the feature's largest magnitude (~80 float32 steps there), whichever is larger.
SCALED = ("max_pool", "timbral", "temporal", "cnn1", "cnn2", "cnn3")
RELATIVE = 1e-5
# 2 GTZAN clips from gtzan-dev and one of the original .au archive
REAL_CLIPS = (
    "gtzan-dev/blues/blues.00000.wav",
    "gtzan-dev/jazz/jazz.00001.wav",
    "gtzan-au-sample/metal/metal.00000.au",
)
PATCHES_PER_CLIP = 3  # keeps the run short; the 10 patches of a clip are alike to the network


def run_driver(*args: str, timeout: int = 600) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("KERAS_BACKEND", None)  # the driver's arguments decide
    env.pop("TF_USE_LEGACY_KERAS", None)
    proc = subprocess.run(
        [sys.executable, str(DRIVER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]


def synthetic_clips(root: Path) -> dict[str, tuple[np.ndarray, int]]:
    """A noisy tone at GTZAN's rate, a stereo 44.1 kHz chirp shorter than one patch, silence."""
    rate = 44100
    t = np.arange(int(1.7 * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    stereo = np.stack([chirp, np.roll(chirp, 300)], axis=1).astype(np.float32)
    write_audio(root / "chirp.wav", stereo, rate)  # through a file, as the workflow reads audio
    chirp_samples, chirp_rate = soundfile.read(root / "chirp.wav", dtype="float32")
    return {
        "tone": (tone(7.0, 22050, 330.0, seed=3), 22050),
        "chirp": (chirp_samples, chirp_rate),
        "silence": (np.zeros(22050 * 4, np.float32), 22050),
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """An npz of log-mel patches named ``<kind>-<clip>``, kind synthetic or real (when present)."""
    root = tmp_path_factory.mktemp("musicnn_inputs")
    batches = {}
    for name, (samples, rate) in synthetic_clips(root).items():
        batches[f"synthetic-{name}"] = musicnn.patches(musicnn.input_representation(samples, rate))
    for clip in REAL_CLIPS:
        if (SHARED_DATA / clip).is_file():
            samples, rate = soundfile.read(SHARED_DATA / clip, dtype="float32")
            reps = musicnn.patches(musicnn.input_representation(samples, rate))
            batches[f"real-{Path(clip).stem}"] = reps[:PATCHES_PER_CLIP]
    np.savez(root / "inputs.npz", **batches)
    return root / "inputs.npz"


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("musicnn_weights")
    run_driver("convert", folder, *musicnn.ARCHITECTURES)
    return {arch: folder / f"{arch}.weights.h5" for arch in musicnn.ARCHITECTURES}


@pytest.fixture(scope="module")
def original(inputs, tmp_path_factory) -> dict[str, np.ndarray]:
    """The wheel's own graph, MSD_musicnn and MTT_musicnn, on every input."""
    target = tmp_path_factory.mktemp("original") / "original.npz"
    run_driver("original", target, inputs, *musicnn.ARCHITECTURES)
    return dict(np.load(target))


@pytest.fixture(scope="module", params=["tensorflow", "jax"])
def port(request, inputs, weights, tmp_path_factory) -> tuple[str, dict[str, np.ndarray]]:
    backend = request.param
    target = tmp_path_factory.mktemp(f"port_{backend}") / "port.npz"
    run_driver("port", backend, target, inputs, *(f"{arch}={w}" for arch, w in weights.items()))
    return backend, dict(np.load(target))


def of_kind(results: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """The ``<arch>/<kind>-<clip>/<feature>`` entries of one kind of input."""
    return {k: v for k, v in results.items() if k.count("/") == 2 and f"/{kind}-" in k}


def max_differences(original: dict, port: dict, features) -> dict[str, tuple[float, float]]:
    """(max abs difference, largest magnitude in the original) per ``<arch>/<input>/<feature>``."""
    keys = [k for k in original if "/" in k and k.rsplit("/", 1)[1] in features]
    assert keys
    for key in keys:
        assert port[key].shape == original[key].shape, key
    return {
        key: (float(np.abs(port[key] - original[key]).max()), float(np.abs(original[key]).max()))
        for key in keys
    }


@pytest.mark.parametrize("kind", ["synthetic", "real"])
def test_the_port_matches_the_wheels_graph(kind, inputs, original, port):
    """Taggram, mean-pooled features and penultimate layer to 1e-4 (max abs); max_pool and the
    frame-level features to 1e-4 or 1e-5 of their scale (see SCALED); both architectures."""
    expected = of_kind(original, kind)
    if not expected:
        pytest.skip(f"no real clips under {SHARED_DATA}")
    backend, found = port
    exact = max_differences(expected, found, EXACT)
    scaled = max_differences(expected, found, SCALED)
    worst = {}
    for key, (d, _) in (exact | scaled).items():
        feature = key.rsplit("/", 1)[1]
        worst[feature] = max(worst.get(feature, 0.0), d)
    print(f"\n{backend}/{kind} max abs: " + ", ".join(f"{f} {d:.1e}" for f, d in worst.items()))
    assert {k.split("/")[0] for k in exact} == set(musicnn.ARCHITECTURES)
    too_far = {k: d for k, (d, _) in exact.items() if d > TOLERANCE}
    too_far |= {k: d for k, (d, m) in scaled.items() if d > max(TOLERANCE, RELATIVE * m)}
    assert not too_far


def test_the_jax_port_runs_without_tensorflow(port):
    backend, found = port
    assert bool(found["tensorflow_imported"]) == (backend == "tensorflow")


def test_the_comparison_can_fail(original, port):
    """The check above sees a wrong network: the MTT weights do not give the MSD outputs."""
    _, found = port
    msd = {k: v for k, v in original.items() if k.startswith("MSD_musicnn/")}
    swapped = {k: found[k.replace("MSD_musicnn/", "MTT_musicnn/", 1)] for k in msd}
    for feature in ("taggram", "max_pool", "cnn3"):
        differences = max_differences(msd, swapped, (feature,)).values()
        assert min(d for d, _ in differences) > 100 * TOLERANCE, feature


def test_feature_shapes(port):
    _, found = port
    shapes = {k.rsplit("/", 1)[1]: v.shape[1:] for k, v in found.items() if "/synthetic-tone/" in k}
    assert shapes == {
        "timbral": (187, 408),
        "temporal": (187, 153),
        "cnn1": (187, 64),
        "cnn2": (187, 64),
        "cnn3": (187, 64),
        "mean_pool": (753,),
        "max_pool": (753,),
        "penultimate": (200,),
        "taggram": (50,),
    }


def test_converted_weights_load_and_are_atomic(weights):
    for arch, path in weights.items():
        assert path.is_file() and path.stat().st_size > 1_000_000, arch
    assert sorted(p.name for p in next(iter(weights.values())).parent.iterdir()) == sorted(
        p.name for p in weights.values()
    ), "no temporary file left next to the weights"


# --- the input representation --------------------------------------------------------------


def wheel_formula(path: Path) -> np.ndarray:
    """The wheel's extractor.batch_data up to the patches, with its logarithm in float32: what it
    computed under NumPy 1 (NumPy 2 keeps ``10000 * float16`` in float16, which overflows)."""
    import librosa

    audio, sr = librosa.load(path, sr=16000)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def representation_cases(tmp_path: Path) -> list[Path]:
    cases = [p for p in (SHARED_DATA / c for c in REAL_CLIPS[:1] + REAL_CLIPS[2:]) if p.is_file()]
    loud = np.clip(3 * tone(3.0, 22050, 110.0, seed=5), -1, 1)  # mel power far above 6.55
    cases.append(write_audio(tmp_path / "loud.wav", loud))
    cases.append(write_audio(tmp_path / "stereo_44k.wav", tone(2.0, 44100, channels=2), 44100))
    return cases


def test_input_representation_is_the_wheels_formula_in_float32(tmp_path):
    for path in representation_cases(tmp_path):
        samples, rate = soundfile.read(path, dtype="float32")
        got = musicnn.input_representation(samples, rate)
        expected = wheel_formula(path)
        assert got.dtype == np.float32 and got.shape == expected.shape, path
        assert np.all(np.isfinite(got)), path
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=str(path))


def test_input_representation_does_not_overflow_where_float16_would(tmp_path):
    """The loud tone's mel power exceeds 65504 / 10000: float16 arithmetic gives inf there."""
    loud = np.clip(3 * tone(3.0, 22050, 110.0, seed=5), -1, 1)
    got = musicnn.input_representation(loud, 22050)
    assert got.max() > np.log10(65504.0 + 1)
    assert np.all(np.isfinite(got))


def test_patches_cut_like_the_wheel_and_repeat_a_short_clip():
    rep = np.arange(500 * 96, dtype=np.float32).reshape(500, 96)
    cut = musicnn.patches(rep)
    assert cut.shape == (2, 187, 96)  # the incomplete tail is dropped, as the wheel does
    np.testing.assert_array_equal(cut[1], rep[187:374])
    overlapping = musicnn.patches(rep, hop=100)
    assert overlapping.shape == (4, 187, 96)
    np.testing.assert_array_equal(overlapping[3], rep[300:487])
    short = musicnn.patches(rep[:50])
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 50:100], rep[:50])  # repeated, not zeros
    with pytest.raises(ValueError, match="representation"):
        musicnn.patches(rep[:0])


def test_checkpoint_dir_finds_the_wheel_without_importing_it():
    for arch in musicnn.ARCHITECTURES:
        assert (musicnn.checkpoint_dir(arch) / ".index").is_file()
    assert "musicnn" not in sys.modules  # its models.py would load TensorFlow here
    with pytest.raises(ValueError, match="MSD_vgg"):
        musicnn.checkpoint_dir("MSD_vgg")


def test_checkpoint_digest_changes_with_the_checkpoint(tmp_path):
    source = musicnn.checkpoint_dir("MSD_musicnn")
    copy = tmp_path / "MSD_musicnn"
    copy.mkdir()
    for name in (".index", ".data-00000-of-00001"):
        (copy / name).write_bytes((source / name).read_bytes())
    assert musicnn.checkpoint_digest(copy) == musicnn.checkpoint_digest(source)
    with open(copy / ".data-00000-of-00001", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x01")
    assert musicnn.checkpoint_digest(copy) != musicnn.checkpoint_digest(source)
    assert musicnn.checkpoint_digest(source) != musicnn.checkpoint_digest(
        musicnn.checkpoint_dir("MTT_musicnn")
    )


# --- the workflow: rule pretrained and the pretrained section -------------------------------


def test_pretrained_weights_is_the_given_file_or_the_converted_one():
    assert musicnn.pretrained_weights({"architecture": "MTT_musicnn", "weights": ""}) == (
        "results/pretrained/MTT_musicnn.weights.h5"
    )
    given = {"architecture": "MSD_musicnn", "weights": "/models/msd.weights.h5"}
    assert musicnn.pretrained_weights(given) == "/models/msd.weights.h5"


def test_wheel_stamp_names_the_version_and_the_checkpoint():
    stamp = musicnn.wheel_stamp("MSD_musicnn")
    assert stamp["wheel"] == "0.1.0"
    assert stamp["checkpoint_sha256"] == musicnn.checkpoint_digest(
        musicnn.checkpoint_dir("MSD_musicnn")
    )


def test_the_rule_converts_once(tmp_path):
    target = "results/pretrained/MTT_musicnn.weights.h5"
    run_snakemake(tmp_path, "--cores", "1", target)
    run_driver("load", tmp_path / target, "MTT_musicnn")
    again = run_snakemake(tmp_path, "-n", "--cores", "1", target)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize(
    "weights, reason",
    [("missing.weights.h5", "does not exist"), ("model.keras", "not a Keras weights file")],
)
def test_a_bad_pretrained_weights_file_stops_the_start_up(tmp_path, weights, reason):
    (tmp_path / "model.keras").write_bytes(b"not weights")
    proc = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "1",
        "--config",
        f"pretrained={{weights: {weights}}}",
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "pretrained.weights" in output and reason in output, output[-3000:]


def test_a_given_pretrained_weights_file_is_accepted(tmp_path):
    (tmp_path / "msd.weights.h5").write_bytes(b"")
    run_snakemake(
        tmp_path, "-n", "--cores", "1", "--config", "pretrained={weights: msd.weights.h5}"
    )
