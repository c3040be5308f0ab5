"""Snakemake owns every spectrogram (issue 10): each Snakemake flag and rerun trigger reaches the
PNGs, and the jobs rebuild exactly what was forced or is stale, tried as a user would, with the
real `snakemake` command on a small dataset.

A PNG counts as rebuilt when its inode changed: PNGs are written to a temporary file and renamed.
(Snakemake touches every output of a job that ran, so the mtime says which jobs ran, not which
files were written.)
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake, write_audio

from genreflow.demo import synthesize
from genreflow.tables import read_manifest

GENRES = ["blues", "jazz", "rock"]
SECONDS = 2.0
NUMBERS = [0, 1, 2, 3, 60, 61]  # two blocks of the default size 50: 00000 and 00050
MANIFEST = "results/split/manifest.csv"
CONFIG = {
    "audio_dir": "audio",
    "genres": GENRES,
    "spectrogram": {"duration_s": SECONDS},
    "split": {"method": "ratio", "ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "train": {
        "epochs": 1,
        "batch_size": 8,
        "filters": [4],
        "window_s": 1.0,
        "eval_hop_s": 1.0,
        "min_steps_per_epoch": 1,
    },
}


def png(track: str) -> str:
    return f"results/spectrograms/{track.split('.')[0]}/{track}.png"


def add_clip(root: Path, genre: str, number: int, seed_offset: int = 0) -> Path:
    path = root / "audio" / genre / f"{genre}.{number:05d}.wav"
    write_audio(path, synthesize(GENRES.index(genre), number + seed_offset, SECONDS, 22050, 1))
    return path


def inodes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_ino
        for p in (root / "results/spectrograms").glob("*/*.png")
    }


def rebuilt(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {p for p, ino in after.items() if before.get(p) != ino}


def smk(root: Path, *args: str, check: bool = True):
    return run_snakemake(
        root,
        *args,
        "--cores",
        "2",
        "--configfile",
        str(root / "config.yaml"),
        check=check,
        timeout=300,
    )


def out(proc) -> str:
    return proc.stdout + proc.stderr


ALL = {png(f"{g}.{n:05d}") for g in GENRES for n in NUMBERS}
BLOCK_0 = {png(f"{g}.{n:05d}") for g in GENRES for n in NUMBERS if n < 50}


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A featurised dataset: 3 genres x 6 clips in two blocks, run up to the manifest."""
    for genre in GENRES:
        for n in NUMBERS:
            add_clip(tmp_path, genre, n)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    smk(tmp_path, MANIFEST)
    assert set(inodes(tmp_path)) == ALL
    return tmp_path


def rules(root: Path) -> list[str]:
    return sorted(smk(root, "--list-rules").stdout.split())


def test_the_same_rules_declare_every_png_before_and_after_a_run(tmp_path):
    for genre in GENRES:
        for n in NUMBERS:
            add_clip(tmp_path, genre, n)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    before = rules(tmp_path)
    assert {"spectrograms", "spectrograms_00000", "spectrograms_00050"} <= set(before)
    planned = out(smk(tmp_path, MANIFEST, "-n"))
    assert all(p in planned for p in ALL)
    smk(tmp_path, MANIFEST)
    assert rules(tmp_path) == before
    summary = smk(tmp_path, "--summary").stdout
    for p in ALL:
        assert re.search(rf"^{re.escape(p)}\t.*\tspectrograms_000[05]0\t", summary, flags=re.M), p
    assert "Nothing to be done" in out(smk(tmp_path, MANIFEST, "-n"))


def test_forcerun_a_png_rebuilds_that_png(made):
    before = inodes(made)
    smk(made, MANIFEST, "--forcerun", png("jazz.00002"))
    assert rebuilt(before, inodes(made)) == {png("jazz.00002")}


def test_force_a_png_target_rebuilds_that_png(made):
    before = inodes(made)
    smk(made, png("rock.00061"), "--force")
    assert rebuilt(before, inodes(made)) == {png("rock.00061")}


def test_R_a_block_rule_rebuilds_its_block(made):
    before = inodes(made)
    smk(made, MANIFEST, "-R", "spectrograms_00000")
    assert rebuilt(before, inodes(made)) == BLOCK_0


def test_R_spectrograms_rebuilds_every_png(made):
    before = inodes(made)
    smk(made, MANIFEST, "-R", "spectrograms")
    assert rebuilt(before, inodes(made)) == ALL


def test_forceall_rebuilds_every_png(made):
    before = inodes(made)
    smk(made, MANIFEST, "--forceall")
    assert rebuilt(before, inodes(made)) == ALL


def test_delete_all_output_removes_every_png_and_never_the_audio(made):
    audio = {p: p.read_bytes() for p in (made / "audio").rglob("*.wav")}
    listed = out(smk(made, MANIFEST, "--delete-all-output", "-n"))
    assert all(f"Would delete {p}" in listed for p in ALL)
    smk(made, MANIFEST, "--delete-all-output")
    assert inodes(made) == {}
    assert {p: p.read_bytes() for p in (made / "audio").rglob("*.wav")} == audio


def test_a_spectrogram_setting_is_a_params_change_of_every_png(made):
    change = made / "n_mels.yaml"
    change.write_text("spectrogram: {n_mels: 64}\n")
    extra = ("--configfile", str(made / "config.yaml"), str(change))
    listed = run_snakemake(made, "--list-changes", "params", *extra, timeout=120).stdout
    assert set(listed.split()) >= ALL
    before = inodes(made)
    run_snakemake(made, MANIFEST, "--cores", "2", *extra, timeout=300)
    assert rebuilt(before, inodes(made)) == ALL


def test_a_code_change_lists_and_with_the_code_trigger_rebuilds_every_png(made, tmp_path_factory):
    """Edits a copy of the workflow: the featurisation script is what Snakemake hashes."""
    copy = tmp_path_factory.mktemp("workflow_copy")
    for part in ("Snakefile", "workflow", "config", "envs", "profiles"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, copy / part)
    script = copy / "workflow/scripts/spectrograms.py"
    script.write_text(script.read_text() + "\n# an edit\n")
    args = ("--snakefile", str(copy / "Snakefile"), "--configfile", str(made / "config.yaml"))
    # the rule's code path differs from the original's: record it once with the copy
    run_snakemake(made, MANIFEST, "--cores", "2", "--forcerun", "spectrograms", *args, timeout=300)
    script.write_text(script.read_text() + "# another edit\n")
    listed = run_snakemake(made, "--list-changes", "code", *args, timeout=120).stdout
    assert set(listed.split()) >= ALL
    before = inodes(made)
    run_snakemake(made, MANIFEST, "--cores", "2", "--rerun-triggers", "code", *args, timeout=300)
    assert rebuilt(before, inodes(made)) == ALL
    # with the workflow profile's triggers (no code): nothing more to do
    assert "Nothing to be done" in out(run_snakemake(made, MANIFEST, "-n", *args, timeout=120))


def test_a_newer_audio_file_rebuilds_its_png_only(made):
    """The mtime trigger alone (a touch with the same content does not count: Snakemake compares
    the checksums of small inputs)."""
    audio = add_clip(made, "blues", 3, seed_offset=7)  # new content, written now
    before = inodes(made)
    planned = out(smk(made, MANIFEST, "-n", "--rerun-triggers", "mtime"))
    assert "spectrograms_00000" in planned and "spectrograms_00050" not in planned
    smk(made, MANIFEST, "--rerun-triggers", "mtime")
    assert rebuilt(before, inodes(made)) == {png("blues.00003")}
    assert audio.exists()


def test_a_removed_track_is_an_input_change_of_its_block_and_rewrites_nothing(made):
    """The block's audio table (whose inputs are the audio files) sees the change; the block's
    featurisation job runs after it and writes nothing."""
    (made / "audio/rock/rock.00001.wav").unlink()
    listed = smk(made, "--list-changes", "input").stdout.split()
    assert (
        "results/spectrograms/audio/00000.tsv" in listed
        and "results/spectrograms/audio/00050.tsv" not in listed
    )
    before = inodes(made)
    planned = out(smk(made, MANIFEST, "-n", "--rerun-triggers", "input"))
    assert "Set of input files has changed" in planned and "spectrograms_00050" not in planned
    smk(made, MANIFEST, "--rerun-triggers", "input")
    assert rebuilt(before, inodes(made)) == set()
    assert "rock.00001" not in (made / MANIFEST).read_text()


def test_an_added_track_in_an_existing_block_is_the_only_png_written(made):
    """An old file copied with its mtime (cp -p) into a block that ran before: the default
    target asks for its missing PNG by name."""
    before = inodes(made)
    shutil.copy2(made / "audio/jazz/jazz.00001.wav", made / "audio/jazz/jazz.00007.wav")
    assert png("jazz.00007") in out(smk(made, "-n"))
    smk(made)
    assert rebuilt(before, inodes(made)) == {png("jazz.00007")}


def test_added_tracks_with_new_numbers_leave_every_other_png_untouched(made):
    stats = lambda: {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (made / "results/spectrograms").glob("*/*.png")
    }
    before = stats()
    for genre in GENRES:
        add_clip(made, genre, 120)
    planned = out(smk(made, MANIFEST, "-n"))
    assert (
        "spectrograms_00100" in planned
        and "spectrograms_00000" not in planned
        and "spectrograms_00050" not in planned
    )
    smk(made, MANIFEST)
    after = stats()
    assert {p: after[p] for p in before} == before, (
        "inodes and mtimes of the other PNGs are unchanged"
    )
    assert set(after) - set(before) == {made / png(f"{g}.00120") for g in GENRES}


def test_a_clip_replaced_by_a_same_size_older_copy_is_featurised_again(made):
    """cp -p of another clip of the same length: same size, older mtime, new inode change time."""
    target = made / "audio/rock/rock.00002.wav"
    replacement = made / "replacement.wav"
    write_audio(replacement, synthesize(0, 99, SECONDS, 22050, 1))
    assert replacement.stat().st_size == target.stat().st_size
    os.utime(replacement, ns=(10**18, 10**18))  # 2001: older than every PNG
    before = inodes(made)
    old = (made / png("rock.00002")).read_bytes()
    shutil.copy2(replacement, target)  # what cp -p does
    assert "Params have changed" in out(smk(made, MANIFEST, "-n"))
    smk(made, MANIFEST)
    assert rebuilt(before, inodes(made)) == {png("rock.00002")}
    assert (made / png("rock.00002")).read_bytes() != old


def test_a_truncated_png_is_named_and_rebuilt_in_the_same_run(made):
    """The default target asks for damaged and missing PNGs by name (Snakemake remakes a missing
    output only when it is asked for)."""
    damaged = made / png("jazz.00060")
    good = damaged.read_bytes()
    os.truncate(damaged, len(good) // 2)
    before = inodes(made)
    proc = smk(made)
    assert (
        f"{png('jazz.00060')} is damaged ({len(good) // 2} bytes, its job wrote {len(good)})"
        in out(proc)
    )
    assert damaged.read_bytes() == good, "made again, the same bytes"
    assert rebuilt(before, inodes(made)) == {png("jazz.00060")}
    assert "Nothing to be done" in out(smk(made, "-n"))


def test_a_deleted_png_is_made_again(made):
    (made / png("blues.00061")).unlink()
    before = inodes(made)
    assert "spectrograms_00050" in out(smk(made, "-n"))
    smk(made)
    assert rebuilt(before, inodes(made)) == {png("blues.00061")}


def test_a_png_damaged_without_a_change_of_size_is_named_when_read_and_made_again(made):
    """Bits flipped in place, size and mtime kept: start-up cannot tell; training reads the PNG,
    compares its sha256 with the manifest's, stops naming it and removes it; the next run makes
    it again."""
    smk(made)  # a trained model, so that -R train below reads every training PNG
    manifest = {r["track"]: r for r in read_manifest(made / MANIFEST)}
    track = next(t for t, r in manifest.items() if r["split"] == "train")
    target = made / manifest[track]["spectrogram"]
    good, st = target.read_bytes(), target.stat()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    target.write_bytes(bytes(damaged))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert "Nothing to be done" in out(smk(made, "-n"))
    failed = smk(made, "-R", "train", check=False)
    assert (
        failed.returncode != 0
        and f"{manifest[track]['spectrogram']} is damaged (its sha256 is not the one"
        in out(failed) + (made / "results/logs/train/seed_42.log").read_text()
    )
    assert not target.exists()
    smk(made)
    assert target.read_bytes() == good
