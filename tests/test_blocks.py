"""Featurisation blocks (issue 10), without Snakemake: stable block keys, the start-up decisions
(left out, damaged, missing), what a block job rewrites, and what forcing asks of it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import tone, write_audio

from genreflow.blocks import (
    KNOWN_BAD,
    REBUILD_ENV,
    Item,
    JobReason,
    audio_stamp,
    block_name,
    forced_for,
    plan_blocks,
    read_index,
    rebuild_requests,
    stamps_digest,
    unusable_pngs,
    write_index,
)
from genreflow.featurize import featurize_block
from genreflow.params import SpectrogramParams

PARAMS = SpectrogramParams(
    sample_rate=8000, duration_s=1.0, n_fft=256, hop_length=128, n_mels=16, fmax=4000.0
)


def test_numbered_keys_go_by_number_range_others_by_hash():
    assert block_name("blues.00042", 50, 4) == block_name("rock.00049", 50, 4) == "00000"
    assert (
        block_name("blues.00050", 50, 4) == "00050" and block_name("jazz.01234", 100, 4) == "01200"
    )
    hashed = {block_name(f"song {i}.wav-{i:010x}", 50, 4) for i in range(200)}
    assert hashed == {"h00", "h01", "h02", "h03"}
    assert block_name("x.wav-0123456789", 50, 4) == block_name("x.wav-0123456789", 50, 4)


def items(root: Path, names: list[str]) -> list[Item]:
    return [
        Item(n, str(root / "audio" / f"{n}.wav"), str(root / "png" / f"{n}.png"), "g", n)
        for n in names
    ]


def plan(root: Path, members: list[Item], known_bad=frozenset(), decided=None, sniffed=None):
    sniffed = [] if sniffed is None else sniffed

    def sniff(path):
        sniffed.append(Path(path).name)
        return "not audio: text file" if Path(path).read_bytes().startswith(b"text") else None

    return plan_blocks(
        members,
        lambda key: block_name(key, 2, 4),
        lambda b: str(root / "index" / f"{b}.tsv"),
        set(known_bad),
        sniff,
        decided,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i, n in enumerate(["a.00000", "a.00001", "a.00002", "a.00003"]):
        write_audio(
            tmp_path / "audio" / f"{n}.wav", tone(1.0, rate=8000, freq=200 + 50 * i), rate=8000
        )
    (tmp_path / "audio" / "a.00004.wav").write_bytes(b"text, not audio")
    return tmp_path


def test_start_up_leaves_out_known_bad_and_junk_and_reads_only_unseen_files(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00002", "a.00003", "a.00004"])
    sniffed: list[str] = []
    blocks = plan(folder, members, known_bad={"a.00001"}, sniffed=sniffed)
    assert sorted(blocks) == ["00000", "00002", "00004"]
    assert [m.key for m in blocks["00000"].members] == ["a.00000"]
    assert [(i.key, r) for i, r in blocks["00000"].left_out] == [("a.00001", KNOWN_BAD)]
    assert [(i.key, r) for i, r in blocks["00004"].left_out] == [
        ("a.00004", "not audio: text file")
    ]
    assert sorted(sniffed) == ["a.00000.wav", "a.00002.wav", "a.00003.wav", "a.00004.wav"]

    # the jobs ran: their indexes record what they did; a job-time rejection stays left out
    for block in blocks.values():
        failures = featurize_block(
            block.members, block.left_out, PARAMS, lambda png: False, block.index
        )
        assert failures == []
    index = read_index(blocks["00002"].index)
    write_index(
        blocks["00002"].index,
        [
            index["a.00002"],
            {**index["a.00003"], "status": "rejected", "reason": "cannot decode audio (x)"},
        ],
    )
    sniffed.clear()
    again = plan(folder, members, known_bad={"a.00001"}, sniffed=sniffed)
    assert sniffed == [], "every file is in an index now: none is opened"
    assert [(i.key, r) for i, r in again["00002"].left_out] == [
        ("a.00003", "cannot decode audio (x)")
    ]
    assert [(i.key, r) for i, r in again["00004"].left_out] == [("a.00004", "not audio: text file")]
    # until the file changes (replaced, even by an older copy: the inode change time moves)
    audio = Path(members[3].audio)
    data, st = audio.read_bytes(), audio.stat()
    audio.write_bytes(data)
    os.utime(audio, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [m.key for m in plan(folder, members)["00002"].members] == ["a.00002", "a.00003"]


def test_cluster_jobs_take_the_submitting_process_decisions_without_reading(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00004"])
    sniffed: list[str] = []
    blocks = plan(folder, members, decided={"a.00004": "not audio: text file"}, sniffed=sniffed)
    assert sniffed == [] and [i.key for i, _ in blocks["00004"].left_out] == ["a.00004"]
    assert [m.key for m in blocks["00000"].members] == ["a.00000", "a.00001"]


def test_damaged_and_missing_pngs_of_blocks_that_ran(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00002"])
    blocks = plan(folder, members)
    assert unusable_pngs(blocks) == ([], []), (
        "blocks that never ran are not checked: they run anyway"
    )
    for block in blocks.values():
        featurize_block(block.members, [], PARAMS, lambda png: False, block.index)
    blocks = plan(folder, members)
    assert unusable_pngs(blocks) == ([], [])
    Path(members[0].png).write_bytes(Path(members[0].png).read_bytes()[:100])
    os.remove(members[2].png)
    damaged, missing = unusable_pngs(plan(folder, members))
    assert [p for p, _ in damaged] == [members[0].png] and "100 bytes, its job wrote" in damaged[0][
        1
    ]
    assert missing == [members[2].png]


def test_a_block_job_rewrites_only_what_is_stale_forced_or_damaged(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00002"])
    index = str(folder / "index.tsv")
    featurize_block(members, [], PARAMS, lambda png: False, index)
    inode = lambda m: os.stat(m.png).st_ino
    first = [inode(m) for m in members]
    featurize_block(members, [], PARAMS, lambda png: False, index)
    assert [inode(m) for m in members] == first, "nothing stale, nothing rewritten"
    featurize_block(members, [], PARAMS, lambda png: png == members[1].png, index)
    assert [inode(m) == i for m, i in zip(members, first)] == [True, False, True]
    Path(members[2].png).write_bytes(b"\x89PNG\r\n\x1a\n broken")  # same name, not a PNG any more
    second = [inode(m) for m in members]
    featurize_block(members, [], PARAMS, lambda png: False, index)
    assert [inode(m) == i for m, i in zip(members, second)] == [True, True, False]
    other = SpectrogramParams(**{**PARAMS.__dict__, "n_mels": 8})
    third = [inode(m) for m in members]
    featurize_block(members, [], other, lambda png: False, index)
    assert all(inode(m) != i for m, i in zip(members, third)), "other settings: every PNG again"
    records = read_index(index)
    assert [records[m.key]["png_sha256"] for m in members] == [
        __import__("hashlib").sha256(Path(m.png).read_bytes()).hexdigest() for m in members
    ]


def test_a_bad_file_is_recorded_and_never_stops_the_others(folder):
    good, bad = items(folder, ["a.00000", "a.00004"])
    left_out = [(Item("a.00009", str(folder / "gone.wav"), "", "g", "a.00009"), KNOWN_BAD)]
    failures = featurize_block(
        [good, bad], left_out, PARAMS, lambda png: False, str(folder / "index.tsv")
    )
    assert [f.audio for f in failures] == [bad.audio] and "not audio: text file" in failures[
        0
    ].reason
    records = read_index(folder / "index.tsv")
    assert records["a.00000"]["status"] == "ok" and Path(good.png).exists()
    assert (
        records["a.00004"]["status"] == "rejected"
        and records["a.00004"]["reason"] == "not audio: text file"
    )
    assert records["a.00004"]["audio_stamp"] == audio_stamp(bad.audio)
    assert records["a.00009"] == {**records["a.00009"], "status": "rejected", "reason": KNOWN_BAD}


def test_the_index_keeps_any_file_name(tmp_path):
    names = ["tab\there", "new\nline", 'quote " and , comma', "日本 é", os.fsdecode(b"caf\xe9")]
    rows = [{"key": f"k{i}", "name": n, "audio": n, "status": "ok"} for i, n in enumerate(names)]
    write_index(tmp_path / "i.tsv", rows)
    back = read_index(tmp_path / "i.tsv")
    assert [back[f"k{i}"]["name"] for i in range(len(names))] == names
    assert len(back) == len(names)


def test_the_audio_stamp_digest_moves_with_any_replacement(tmp_path):
    audio = write_audio(tmp_path / "x.wav", tone(0.5, rate=8000), rate=8000)
    item = [Item("x", str(audio), "x.png")]
    first = stamps_digest(item)
    assert stamps_digest(item) == first
    st = audio.stat()
    shutil.copy2(audio, tmp_path / "copy.wav")
    os.replace(
        tmp_path / "copy.wav", audio
    )  # same bytes, same mtime (cp -p, rsync -a): new inode change time
    assert audio.stat().st_mtime_ns == st.st_mtime_ns and stamps_digest(item) != first


def test_rebuild_requests_follow_what_snakemake_says():
    settings = "results/spectrograms/settings.json"
    jobs = [
        JobReason("spectrograms_00000", ("idx0", "a.png", "b.png")),
        JobReason("spectrograms_00050", ("idx1", "c.png"), code_changed=True),
        JobReason("spectrograms_00100", ("idx2", "d.png"), software_changed=True),
        JobReason("spectrograms_00150", ("idx3", "e.png"), updated_inputs=frozenset({settings})),
        JobReason(
            "spectrograms_00200", ("idx4", "f.png"), updated_inputs=frozenset({"audio/x.wav"})
        ),
        JobReason("spectrograms_00250", ("idx5", "g.png")),
    ]
    requests = rebuild_requests(
        jobs,
        {settings},
        forced_rules={"spectrograms_00250"},
        forced_files={"b.png"},
        forceall=False,
    )
    assert requests == {
        "spectrograms_00000": ["b.png"],  # --forcerun b.png
        "spectrograms_00050": "all",  # code changed
        "spectrograms_00100": "all",  # software environment changed
        "spectrograms_00150": "all",  # the settings were made again (-R spectrograms)
        "spectrograms_00250": "all",  # -R spectrograms_00250
    }, "newer audio (00200) and incomplete outputs rebuild only what is stale, decided by the job"
    assert set(rebuild_requests(jobs, {settings}, set(), set(), forceall=True).values()) == {"all"}


def test_jobs_read_their_request_from_the_environment():
    environ = {REBUILD_ENV: json.dumps({"r1": "all", "r2": ["x/a.png"]})}
    assert forced_for("r1", environ)("anything.png")
    assert forced_for("r2", environ)("x/./a.png") and not forced_for("r2", environ)("x/b.png")
    assert not forced_for("r3", environ)("x/a.png") and not forced_for("r1", {})("x.png")


def test_another_spectrogram_set_is_left_out_as_the_plan_and_as_its_own_jobs_recorded(folder):
    """An experiment variant with other spectrogram settings (genreflow.plan.rerooted): the same
    blocks under another root; what start-up left out stays out, a rejection its own job recorded
    counts while the audio is unchanged, a recorded file that is gone does not stop start-up, and
    a cluster job takes the submitting process's decisions without reading the index."""
    from genreflow.plan import Plan, index_path, rerooted

    members = items(folder, ["a.00000", "a.00001", "a.00002", "a.00003", "a.00004"])
    base = Plan(plan(folder, members, known_bad={"a.00001"}))
    root = str(folder / "variant")

    def keys(blocks):
        return {
            name: ([m.key for m in b.members], [(i.key, r) for i, r in b.left_out])
            for name, b in blocks.items()
        }

    first = rerooted(base, root)
    assert keys(first) == keys(base.blocks)
    assert all(m.png.startswith(root + "/g/") for b in first.values() for m in b.members)
    assert first["00002"].index == index_path("00002", root)

    rejected = {"status": "rejected", "reason": "cannot decode audio (x)"}
    write_index(
        index_path("00002", root),
        [
            {
                "key": "a.00002",
                **rejected,
                "audio_stamp": audio_stamp(folder / "audio" / "a.00002.wav"),
            },
            {
                "key": "a.00003",
                **rejected,
                "audio_stamp": audio_stamp(folder / "audio" / "a.00003.wav"),
            },
        ],
    )
    os.remove(
        folder / "audio" / "a.00003.wav"
    )  # gone since: made by a rule of this run, as at start-up
    again = rerooted(base, root)
    assert keys(again)["00002"] == (["a.00003"], [("a.00002", "cannot decode audio (x)")])
    assert keys(again)["00000"] == keys(base.blocks)["00000"]

    decided = rerooted(base, root, decided={"a.00003": "decided at submission"})
    assert keys(decided)["00002"] == (["a.00002"], [("a.00003", "decided at submission")])
    assert decided["00002"].recorded == {}
