"""Snakemake owns every spectrogram (issues 10 and 18): each Snakemake flag and rerun trigger
reaches the PNGs, a block job that runs rewrites its whole block and nothing else, and nothing
but Snakemake decides what runs (a dry run changes nothing), tried as a user would, with the
real `snakemake` command on a small dataset.

A PNG counts as rebuilt when its inode changed: PNGs are written to a temporary file and renamed.
(Snakemake touches every output of a job that ran, so the mtime says which jobs ran, not which
files were written.)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_of_run, run_snakemake, write_audio

from genreflow.demo import synthesize
from genreflow.tables import read_manifest

GENRES = ["blues", "jazz", "rock"]
SECONDS = 2.0
NUMBERS = [0, 1, 2, 3, 60, 61]  # two blocks of the default size 50: 00000 and 00050
MANIFEST = "results/split/manifest.csv"
CONFIG = {
    "audio_dir": "audio",
    "genres": GENRES,
    "spectrogram": {"kind": "logmel", "duration_s": SECONDS},
    "split": {"method": "ratio", "ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "train": {
        "recipe": "cnn",
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
BLOCK_50 = ALL - BLOCK_0
MODEL = "results/model/seed_42/model.keras"


@pytest.fixture(scope="module")
def featurised(tmp_path_factory) -> Path:
    """A featurised dataset: 3 genres x 6 clips in two blocks, run up to the manifest once."""
    root = tmp_path_factory.mktemp("featurised")
    for genre in GENRES:
        for n in NUMBERS:
            add_clip(root, genre, n)
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    smk(root, MANIFEST)
    assert set(inodes(root)) == ALL
    return root


@pytest.fixture
def made(featurised: Path, tmp_path: Path) -> Path:
    """A private copy of the featurised dataset (and of Snakemake's records) for one test,
    recorded as up to date by `--touch` (copy_of_run): a copied audio file has a new inode
    change time, which the audio stamps count as a replaced file, on purpose (see
    test_a_clip_replaced_by_a_same_size_older_copy_is_featurised_again)."""
    root = tmp_path / "run"
    return copy_of_run(featurised, root, MANIFEST, "--configfile", str(root / "config.yaml"))


def rules(root: Path) -> list[str]:
    return sorted(smk(root, "--list-rules").stdout.split())


def test_the_same_rules_declare_every_png_before_and_after_a_run(tmp_path):
    for genre in GENRES:
        for n in NUMBERS:
            add_clip(tmp_path, genre, n)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    before = rules(tmp_path)
    assert {
        "spectrograms",
        "spectrograms_00000",
        "spectrograms_00000_audio",
        "spectrograms_00050",
        "spectrograms_index",
    } <= set(before)
    planned = out(smk(tmp_path, MANIFEST, "-n"))
    assert all(p in planned for p in ALL)
    smk(tmp_path, MANIFEST)
    assert rules(tmp_path) == before
    summary = smk(tmp_path, "--summary").stdout
    for p in ALL:
        assert re.search(rf"^{re.escape(p)}\t.*\tspectrograms_000[05]0\t", summary, flags=re.M), p
    assert "Nothing to be done" in out(smk(tmp_path, MANIFEST, "-n"))


def test_forcerun_a_png_rebuilds_its_block(made):
    before = inodes(made)
    smk(made, MANIFEST, "--forcerun", png("jazz.00002"))
    assert rebuilt(before, inodes(made)) == BLOCK_0


def test_force_a_png_target_rebuilds_its_block(made):
    before = inodes(made)
    smk(made, png("rock.00061"), "--force")
    assert rebuilt(before, inodes(made)) == BLOCK_50


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


def test_a_newer_audio_file_rebuilds_its_block_only(made):
    """The mtime trigger alone (a touch with the same content does not count: Snakemake compares
    the checksums of small inputs)."""
    audio = add_clip(made, "blues", 3, seed_offset=7)  # new content, written now
    before = inodes(made)
    planned = out(smk(made, MANIFEST, "-n", "--rerun-triggers", "mtime"))
    assert "spectrograms_00000" in planned and "spectrograms_00050" not in planned
    smk(made, MANIFEST, "--rerun-triggers", "mtime")
    assert rebuilt(before, inodes(made)) == BLOCK_0
    assert audio.exists()


def test_a_removed_track_is_an_input_change_of_its_block(made):
    """The block's audio table (whose inputs are the audio files) sees the change; the block's
    featurisation job runs after it; the other block is left alone."""
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
    assert rebuilt(before, inodes(made)) == BLOCK_0 - {png("rock.00001")}
    assert "rock.00001" not in (made / MANIFEST).read_text()


def test_an_added_track_in_an_existing_block_rewrites_that_block(made):
    """An old file copied with its mtime (cp -p) into a block that ran before."""
    before = inodes(made)
    shutil.copy2(made / "audio/jazz/jazz.00001.wav", made / "audio/jazz/jazz.00007.wav")
    assert png("jazz.00007") in out(smk(made, MANIFEST, "-n"))
    smk(made, MANIFEST)
    assert rebuilt(before, inodes(made)) == BLOCK_0 | {png("jazz.00007")}
    assert "jazz.00007" in (made / MANIFEST).read_text()


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
    assert rebuilt(before, inodes(made)) == BLOCK_0
    assert (made / png("rock.00002")).read_bytes() != old


def test_a_truncated_png_stops_the_run_naming_it_and_the_command_that_remakes_it(made):
    """Overwritten since its job wrote it (newer, another size): the index job, which every
    reader of spectrograms depends on, names it; the command it names makes it again."""
    damaged = made / png("jazz.00060")
    good = damaged.read_bytes()
    os.truncate(damaged, len(good) // 2)
    failed = smk(made, check=False)
    command = f"snakemake --forcerun '{png('jazz.00060')}'"
    assert failed.returncode != 0 and command in out(failed) + log_of(made, "spectrograms_index")
    assert not (made / MODEL).exists(), "stopped before training"
    smk(made, MANIFEST, "--forcerun", png("jazz.00060"))
    assert damaged.read_bytes() == good, "made again, the same bytes"
    assert "Nothing to be done" in out(smk(made, MANIFEST, "-n"))


def log_of(root: Path, rule: str) -> str:
    log = root / f"results/logs/spectrograms/{rule}.log"
    return log.read_text() if log.exists() else ""


def test_a_deleted_png_stops_any_target_before_training_naming_the_command(made):
    """Snakemake remakes a missing intermediate file only when a job that takes it as input
    runs; the training job, which reads every spectrogram, checks them first and names the
    command, which makes the PNG's block again."""
    (made / png("jazz.00003")).unlink()
    for target in ((), (MODEL, "--forcerun", "train")):
        failed = smk(made, *target, check=False)
        command = f"snakemake --forcerun '{png('jazz.00003')}'"
        assert failed.returncode != 0 and command in out(failed) + train_log(made)
        assert "1 spectrogram(s) missing" in out(failed) + train_log(made)
        assert not (made / MODEL).exists()
    before = inodes(made)
    smk(made, MANIFEST, "--forcerun", png("jazz.00003"))
    assert rebuilt(before, inodes(made)) == BLOCK_0 | {png("jazz.00003")}


def train_log(root: Path) -> str:
    log = root / "results/logs/train/seed_42.log"
    return log.read_text() if log.exists() else ""


def test_a_deleted_png_is_made_again_when_the_index_runs(made):
    """The index takes every PNG as input: when it runs (here: a clip of the other block
    replaced), the missing PNG's block runs first."""
    (made / png("blues.00061")).unlink()
    shutil.copy2(made / "audio/rock/rock.00001.wav", made / "audio/rock/rock.00002.wav")
    planned = out(smk(made, MANIFEST, "-n"))
    assert "spectrograms_00050" in planned and "spectrograms_00000" in planned
    smk(made, MANIFEST)
    assert (made / png("blues.00061")).exists()


def test_a_png_damaged_without_a_change_of_size_stops_the_run_before_training(made):
    """Bits flipped in place, size and mtime kept: Snakemake cannot tell; the training job
    compares every manifest row's sha256 (test split included) before it trains, stops naming
    the file and the command that remakes it, and that command does."""
    manifest = {r["track"]: r for r in read_manifest(made / MANIFEST)}
    track = next(t for t, r in manifest.items() if r["split"] == "test")
    target = made / manifest[track]["spectrogram"]
    good, st = target.read_bytes(), target.stat()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    target.write_bytes(bytes(damaged))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    failed = smk(made, MODEL, check=False)
    log = (made / "results/logs/train/seed_42.log").read_text()
    command = f"snakemake --forcerun '{manifest[track]['spectrogram']}'"
    assert failed.returncode != 0 and command in out(failed) + log
    assert "epoch" not in log and not (made / MODEL).exists(), "stopped before training"
    assert target.exists(), "a reader removes nothing"
    smk(made, MODEL, "--forcerun", manifest[track]["spectrogram"])
    assert target.read_bytes() == good and (made / MODEL).exists()


def tree_digest(root: Path) -> dict[str, str]:
    """Every file outside .snakemake: path -> sha256 (links by target)."""
    return {
        str(p.relative_to(root)): os.readlink(p)
        if p.is_symlink()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if ".snakemake" not in p.relative_to(root).parts and (p.is_file() or p.is_symlink())
    }


def test_dry_runs_and_listings_change_nothing_even_with_a_damaged_png(made):
    damaged = made / png("blues.00001")
    damaged.write_bytes(damaged.read_bytes()[:100])
    before = tree_digest(made)
    for args in (
        ("-n",),
        (MANIFEST, "-n"),
        ("--list-rules",),
        ("--summary",),
        ("--list-changes", "input"),
        ("--list-changes", "params"),
        ("--list-changes", "code"),
    ):
        smk(made, *args)
        assert tree_digest(made) == before, args


def test_a_rejection_by_a_setting_is_undone_when_the_setting_is_reverted(tmp_path):
    """offset_s 3 rejects the 2-s clips (recorded by their jobs: tombstone PNGs, `rejected` in
    the tables), offset_s 0 brings them back; offset_s 1000 rejects every clip, and the split
    job says so with the start-up's message, and 0 brings them all back."""
    short = {"blues.00002", "rock.00003"}
    for genre in GENRES:
        for n in NUMBERS:
            seconds = SECONDS if f"{genre}.{n:05d}" in short else 4.0
            write_audio(
                tmp_path / "audio" / genre / f"{genre}.{n:05d}.wav",
                synthesize(GENRES.index(genre), n, seconds, 22050, 1),
            )

    def run(offset: float, check: bool = True, strict: bool = False):
        spectrogram = {"duration_s": SECONDS, "offset_s": offset}
        config = {**CONFIG, "spectrogram": spectrogram, "strict": strict}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        return smk(tmp_path, MANIFEST, check=check)

    def tracks() -> set[str]:
        return {r["track"] for r in read_manifest(tmp_path / MANIFEST)}

    everything = {f"{g}.{n:05d}" for g in GENRES for n in NUMBERS}
    run(0)
    assert tracks() == everything
    run(3)
    assert tracks() == everything - short
    index = (tmp_path / "results/spectrograms/index.tsv").read_text()
    assert index.count("no samples after offset 3 s") == 2
    run(0)
    assert tracks() == everything
    failed = run(1000, check=False)
    message = "audio_dir: no usable track in 'audio' (empty dataset)"
    assert (
        failed.returncode != 0
        and message in out(failed) + (tmp_path / "results/logs/split.log").read_text()
    )
    run(0)
    assert tracks() == everything
    # strict: the split job, where the decisions are, refuses them, naming each file
    failed = run(3, check=False, strict=True)
    split_log = (tmp_path / "results/logs/split.log").read_text()
    assert failed.returncode != 0 and "strict: 2 audio file(s) rejected" in out(failed) + split_log
    assert all(f"{t}.wav: no samples after offset 3 s" in out(failed) + split_log for t in short)
