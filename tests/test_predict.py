"""Classifying a user's folder of audio (issue 7): odd file names, several formats, what is
skipped and why, the CSV, and that adding files re-runs only what is new."""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import GENRES, TINY_PRESET, copy_of_run, run_snakemake, tone, write_audio

from genreflow.blocks import is_declarable, read_records, safe_id
from genreflow.predict import (
    classify_block,
    discover,
    make_predict_plan,
    predictions_table,
    read_predictions_csv,
    write_predictions_csv,
)
from genreflow.recipe import TrainSettings

TINY = TINY_PRESET  # conftest: the preset the shared tiny demo run uses
ODD_NAMES = [
    "song one.wav",
    "sub/dir/Ünïcødé – 日本.flac",
    """$(touch pwned) 'single' "double" {x}.au""",
    "a, comma; semi.wav",
    "no_extension",
]


def predict_args(folder: Path, name: str = "new_audio") -> list[str]:
    # the target goes first: --configfile and --config take every word after them
    return [
        "predict",
        "--cores",
        "2",
        "--configfile",
        TINY,
        "--config",
        f"predict={{audio_dir: '{folder}', name: {name}}}",
    ]


# --- library: names, discovery, planning -----------------------------------------------------


def test_safe_ids_are_unique_stable_and_plain():
    names = ODD_NAMES + [
        "a b.wav",
        "a_b.wav",
        "A B.wav",
        "日本.mp3",
        "本日.mp3",
        "x" * 300 + ".wav",
        "....wav",
    ]
    ids = [safe_id(n) for n in names]
    assert len(set(ids)) == len(ids)
    assert all(
        re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{10}", i) and len(i) <= 60 for i in ids
    ), ids
    assert ids == [safe_id(n) for n in names]
    assert safe_id("song one.wav").startswith("song_one.wav-")


def test_braced_names_are_kept_away_from_snakemake_patterns():
    assert not is_declarable("music/{x}.wav")
    assert not is_declarable("music/{x,y}.wav")
    assert is_declarable("music/a { b.wav") and is_declarable("music/$(x) 'q'.wav")


def test_discover_walks_subfolders_and_reports_hidden_files(tmp_path):
    for rel in [
        "b.wav",
        "a/c.wav",
        ".DS_Store",
        "._b.wav",
        ".git/objects/x.wav",
        "a/.hidden/d.wav",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    os.symlink(tmp_path / "gone.wav", tmp_path / "dangling.wav")
    files, skipped = discover(str(tmp_path))
    assert [f.relpath for f in files] == ["b.wav", "a/c.wav"]
    assert {s.relpath: s.reason for s in skipped} == {
        ".DS_Store": "hidden file",
        "._b.wav": "hidden file",
        ".git/": "hidden folder, skipped with everything in it",
        "a/.hidden/": "hidden folder, skipped with everything in it",
        "dangling.wav": "broken link",
    }


def test_names_that_are_not_utf8_are_reported_not_crashed_on(tmp_path):
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9.wav")
    with open(bad, "wb") as fh:
        fh.write(b"x")
    files, skipped = discover(str(tmp_path))
    assert files == []
    assert [(s.relpath, s.reason) for s in skipped] == [
        ("caf\\xe9.wav", "file name is not valid UTF-8 (rename the file)")
    ]


def test_plan_makes_every_file_a_member_and_its_job_names_what_is_not_audio(tmp_path, monkeypatch):
    from genreflow.blocks import read_records
    from genreflow.featurize import featurize_block
    from genreflow.params import SpectrogramParams

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "music"
    for i, rel in enumerate(["one.wav", "two.wav", "sub/three.flac"]):
        write_audio(
            folder / rel,
            tone(1.0, rate=8000, freq=300 + 100 * i),
            rate=8000,
            fmt="FLAC" if rel.endswith("flac") else None,
        )
    (folder / "readme.txt").write_text("not audio")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "noise.wav").write_bytes(np.random.default_rng(0).bytes(3000))

    plan = make_predict_plan(str(folder), "mine", hash_blocks=4)
    members = {item.name: item for b in plan.blocks.values() for item in b.members}
    assert set(members) == {
        "one.wav",
        "two.wav",
        "sub/three.flac",
        "readme.txt",
        "empty.wav",
        "noise.wav",
    }, "start-up reads no file: the block jobs decide"
    assert all(m.png == f"results/predict/mine/spectrograms/{m.key}.png" for m in members.values())
    assert all(name.startswith("h") and len(name) == 3 for name in plan.blocks), (
        "hash blocks: no track numbers here"
    )
    params = SpectrogramParams(
        sample_rate=8000, duration_s=1.0, n_fft=256, hop_length=128, n_mels=16, fmax=4000.0
    )
    for block in plan.blocks.values():
        featurize_block(block.members, params, block.table)
    reasons = {
        r["name"]: r["reason"]
        for b in plan.blocks.values()
        for r in read_records(b.table)
        if r["status"] == "rejected"
    }
    assert reasons["empty.wav"] == "empty file (0 bytes)"
    assert reasons["readme.txt"] == "not audio: text file"
    assert reasons["noise.wav"].startswith("not a readable audio file")  # libsndfile's header check
    assert len(reasons) == 3
    # the same files, the same blocks: a cluster job re-parsing the workflow finds the same rules
    again = make_predict_plan(str(folder), "mine", hash_blocks=4)
    assert {n: [m.key for m in b.members] for n, b in again.blocks.items()} == {
        n: [m.key for m in b.members] for n, b in plan.blocks.items()
    }


def test_csv_round_trips_names_with_commas_quotes_and_newlines(tmp_path):
    import pandas as pd

    from genreflow.tables import write_table

    names = ['a, "b".wav', "line\nbreak.wav", "日本.mp3"]
    table = pd.DataFrame(
        {
            "key": ["k0", "k1", "k2"],
            "file": names,
            "p_blues": ["0.2"] * 3,
            "p_rock": ["0.8", "0.7", "0.6"],
            "p_pop": ["0.0", "0.1", "0.2"],
        }
    )
    write_table(tmp_path / "block.tsv", table)
    csv_table = predictions_table(
        [str(tmp_path / "block.tsv")], ["k2", "k0", "k1"], ["blues", "rock", "pop"]
    )
    write_predictions_csv(tmp_path / "p.csv", csv_table)
    back = read_predictions_csv(tmp_path / "p.csv")
    assert [r["file"] for r in back] == [names[2], names[0], names[1]], (
        "folder order, whatever the block"
    )
    assert [r["top_genre"] for r in back] == ["rock", "rock", "rock"]
    assert list(back[0]) == ["file", "top_genre", "p_blues", "p_rock", "p_pop", "notes"]
    assert [r["notes"] for r in back] == ["", "", ""], "nothing adapted, or nothing said"


def test_classification_writes_a_row_for_every_usable_file_of_the_block(tmp_path, monkeypatch):
    import pandas as pd

    import genreflow.predict as predict
    from genreflow.tables import read_table, write_table

    calls = []

    def fake(model_path, records, genres, settings, spec):
        calls.append([r["png"] for r in records])
        return [np.full((2, len(genres)), 1 / len(genres)) for _ in records]

    monkeypatch.setattr(predict, "_window_probabilities", fake)
    model, table, probs = tmp_path / "model.keras", tmp_path / "table.tsv", tmp_path / "probs.tsv"
    model.write_bytes(b"model one")
    rows = [
        {
            "key": f"k{i}",
            "name": f"f{i}.wav",
            "png": f"p{i}.png",
            "status": s,
            "png_sha256": f"s{i}",
        }
        for i, s in enumerate(["ok", "rejected", "ok"])
    ]
    write_table(table, pd.DataFrame(rows))
    assert (
        classify_block(
            str(model), str(table), str(probs), ["a", "b"], TrainSettings(recipe="cnn"), None
        )
        == 2
    )
    assert calls == [["p0.png", "p2.png"]]
    written = read_table(probs)
    assert (
        list(written["file"]) == ["f0.wav", "f2.wav"] and list(written["p_a"]) == ["0.500000"] * 2
    )


# --- the workflow, on top of the tiny demo run -----------------------------------------------


def sources_from_test_split(workdir: Path) -> list[Path]:
    """Demo audio of test-split tracks: evaluation has already scored them, prediction must agree."""
    with open(workdir / "results/split/manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    return [workdir / "results/demo/audio" / r["genre"] / f"{r['track']}.wav" for r in rows]


def fill_folder(folder: Path, sources: list[Path]) -> dict[str, Path]:
    """Odd names in several formats, plus files that must be skipped. Returns name -> source."""
    import soundfile

    made = {}
    for i, rel in enumerate(ODD_NAMES):
        data, rate = soundfile.read(sources[i % len(sources)], dtype="int16")
        fmt = {"flac": "FLAC", "au": "AU"}.get(rel.rsplit(".", 1)[-1], "WAV")
        write_audio(folder / rel, data, rate=rate, fmt=fmt)
        made[rel] = sources[i % len(sources)]
    if "MP3" in soundfile.available_formats():
        data, rate = soundfile.read(sources[0])
        try:
            write_audio(folder / "track.mp3", data, rate=rate, fmt="MP3", subtype="MPEG_LAYER_III")
            made["track.mp3"] = sources[0]
        except (soundfile.LibsndfileError, RuntimeError, TypeError):
            (folder / "track.mp3").unlink(
                missing_ok=True
            )  # libsndfile built without an MP3 encoder
    # a header libsndfile accepts, frames it cannot decode: found only by the featurisation job
    flac = bytearray((folder / "sub/dir/Ünïcødé – 日本.flac").read_bytes())
    flac[300::7] = bytes(b ^ 0x5A for b in flac[300::7])
    (folder / "broken.flac").write_bytes(bytes(flac))
    (folder / ".hidden.wav").write_bytes((folder / "song one.wav").read_bytes())
    (folder / "notes.txt").write_text("my playlist\n")
    (folder / "empty.wav").write_bytes(b"")
    return made


@pytest.fixture(scope="module")
def predicted(tiny_demo_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("to classify") / "my music"
    made = fill_folder(folder, sources_from_test_split(tiny_demo_run))
    workdir = copy_of_run(
        tiny_demo_run, tmp_path_factory.mktemp("predict") / "run", "--configfile", TINY
    )
    # the undecodable file is recorded by its featurisation job, which goes on without it
    proc = run_snakemake(workdir, *predict_args(folder), timeout=600)
    return workdir, folder, made, proc


def test_predict_classifies_every_audio_file_whatever_its_name(predicted):
    workdir, folder, made, _ = predicted
    rows = read_predictions_csv(workdir / "results/predict/new_audio.csv")
    # original relative paths, in folder order (what discover() walks)
    assert [r["file"] for r in rows] == [
        f.relpath for f in discover(str(folder))[0] if f.relpath in made
    ]
    assert sorted(r["file"] for r in rows) == sorted(made)
    for row in rows:
        probs = np.array([float(row[f"p_{g}"]) for g in GENRES])
        assert abs(probs.sum() - 1) < 1e-4 and probs.min() >= 0
        assert row["top_genre"] == GENRES[int(probs.argmax())]
    assert (
        not (workdir / "pwned").exists()
        and not Path("pwned").exists()
        and not (folder / "pwned").exists()
    )


def test_predict_reports_what_it_skipped_and_why(predicted):
    workdir, *_ = predicted
    with open(
        workdir / "results/predict/new_audio.rejected.tsv", newline="", encoding="utf-8"
    ) as fh:
        rejected = {r["file"]: r["reason"] for r in csv.DictReader(fh, delimiter="\t")}
    assert rejected[".hidden.wav"] == "hidden file"
    assert rejected["empty.wav"] == "empty file (0 bytes)"
    assert rejected["notes.txt"] == "not audio: text file"
    assert rejected["broken.flac"].startswith("cannot decode audio")
    assert len(rejected) == 4


def test_prediction_uses_the_training_spectrograms_and_window_averaging(predicted):
    """Test-split tracks copied into the folder (lossless) get the probabilities evaluation gave them."""
    workdir, folder, made, _ = predicted
    with open(workdir / "results/predictions/test.csv", newline="") as fh:
        evaluated = {r["track"]: r for r in csv.DictReader(fh)}
    rows = {r["file"]: r for r in read_predictions_csv(workdir / "results/predict/new_audio.csv")}
    for rel in ODD_NAMES:
        expected = np.array([float(evaluated[made[rel].stem][f"p_{g}"]) for g in GENRES])
        got = np.array([float(rows[rel][f"p_{g}"]) for g in GENRES])
        np.testing.assert_allclose(got, expected, atol=2e-4, err_msg=rel)


def test_adding_files_reruns_only_their_block(predicted, tmp_path):
    workdir, folder, made, _ = predicted
    pngs = sorted((workdir / "results/predict/new_audio/spectrograms").glob("*.png"))
    before = {p: (p.stat().st_ino, p.read_bytes()) for p in pngs}
    assert len(pngs) == len(made) + 3, "and the tombstones of the three files that are no audio"

    shutil.copyfile(folder / "song one.wav", folder / "sub" / "new song.wav")
    dry = run_snakemake(workdir, *predict_args(folder), "--dry-run", timeout=300)
    planned = re.findall(r"^\s*(?:local)?rule (\S+):", dry.stdout + dry.stderr, flags=re.M)
    block = re.search(r"predict_spectrograms_(h\d\d)", " ".join(planned))[1]
    expected = [
        "predict",
        f"predict_classify_{block}",
        "predict_csv",
        f"predict_spectrograms_{block}",
        f"predict_spectrograms_{block}_audio",
    ]
    assert sorted(planned) == sorted(expected), planned

    run_snakemake(workdir, *predict_args(folder), timeout=600)
    # the other blocks' spectrograms are not rewritten (same inode and bytes)
    table = workdir / f"results/predict/new_audio/spectrograms/index/{block}.tsv"
    in_block = {workdir / r["png"] for r in read_records(table)}
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in before if p not in in_block} == {
        p: s for p, s in before.items() if p not in in_block
    }
    assert len(in_block) < len(before)
    rows = {r["file"]: r for r in read_predictions_csv(workdir / "results/predict/new_audio.csv")}
    assert set(rows) == set(made) | {"sub/new song.wav"}
    # same audio, same model: the same probabilities as the file it was copied from
    assert [rows["sub/new song.wav"][f"p_{g}"] for g in GENRES] == [
        rows["song one.wav"][f"p_{g}"] for g in GENRES
    ]

    again = run_snakemake(workdir, *predict_args(folder), timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_end_of_run_prints_the_accuracy_and_the_predictions(predicted):
    *_, proc = predicted
    out = proc.stdout + proc.stderr
    assert re.search(
        r"^genreflow: cnn recipe, (test|val) split \([^)]+\), track accuracy \d+\.\d%",
        out,
        flags=re.M,
    ), out[-3000:]
    assert re.search(
        r"^genreflow: \d+ file\(s\) classified into results/predict/new_audio\.csv", out, flags=re.M
    )


def test_predict_without_a_folder_says_what_to_set(tiny_demo_run):
    proc = run_snakemake(
        tiny_demo_run,
        "predict",
        "--cores",
        "1",
        "--dry-run",
        "--configfile",
        TINY,
        check=False,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "predict.audio_dir is not set" in proc.stdout + proc.stderr
