"""Featurisation blocks (issues 10 and 18), without Snakemake: stable block keys, what start-up
knows by name, what a block job writes (every member's PNG, a tombstone for a file it rejects,
the block's table), and the set index that stops on a PNG changed since."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import tone, write_audio

from genreflow.blocks import (
    Item,
    audio_stamps,
    block_name,
    make_blocks,
    read_records,
    stamps_digest,
)
from genreflow.featurize import featurize_block, members_of, set_index
from genreflow.params import SpectrogramParams
from genreflow.pngio import DamagedSpectrogram, read_png, read_png_text
from genreflow.tables import write_table

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


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i, n in enumerate(["a.00000", "a.00001", "a.00002", "a.00003"]):
        write_audio(
            tmp_path / "audio" / f"{n}.wav", tone(1.0, rate=8000, freq=200 + 50 * i), rate=8000
        )
    (tmp_path / "audio" / "a.00004.wav").write_bytes(b"text, not audio")
    return tmp_path


def test_blocks_group_by_name_only_and_move_to_another_set(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00002", "a.00004"])
    blocks = make_blocks(members, "results/s", lambda key: block_name(key, 2, 4))
    assert {n: [m.key for m in b.members] for n, b in blocks.items()} == {
        "00000": ["a.00000", "a.00001"],
        "00002": ["a.00002"],
        "00004": ["a.00004"],  # not audio: its job decides, start-up does not
    }
    assert blocks["00002"].table == "results/s/index/00002.tsv"
    moved = blocks["00000"].moved("results/v")
    assert moved.pngs == ["results/v/g/a.00000.png", "results/v/g/a.00001.png"]
    assert moved.table == "results/v/index/00000.tsv"


def test_a_block_job_makes_every_png_and_a_tombstone_for_what_it_rejects(folder):
    members = items(folder, ["a.00000", "a.00001", "a.00004"])
    gone = Item("a.00009", str(folder / "gone.wav"), str(folder / "png" / "a.00009.png"), "g")
    table = featurize_block([*members, gone], PARAMS, str(folder / "index.tsv"))
    records = {r["key"]: r for r in read_records(folder / "index.tsv")}
    assert list(table["key"]) == list(records) == ["a.00000", "a.00001", "a.00004", "a.00009"]
    for item in members[:2]:
        data = Path(item.png).read_bytes()
        assert records[item.key]["status"] == "ok"
        assert records[item.key]["png_sha256"] == hashlib.sha256(data).hexdigest()
        assert records[item.key]["png_bytes"] == str(len(data))
        assert read_png(item.png).shape == (16, PARAMS.n_frames)
    assert records["a.00004"]["status"] == "rejected"
    assert records["a.00004"]["reason"] == "not audio: text file"
    assert records["a.00009"]["reason"].startswith("cannot read file")
    tombstone = read_png_text(members[2].png)
    assert tombstone == {"genreflow:status": "rejected", "genreflow:reason": "not audio: text file"}
    assert read_png(members[2].png).shape == (1, 1)


def test_a_setting_that_rejects_a_file_is_recorded_and_tried_again_with_other_settings(folder):
    (member,) = items(folder, ["a.00000"])
    late = SpectrogramParams(**{**PARAMS.__dict__, "offset_s": 3.0})
    featurize_block([member], late, str(folder / "index.tsv"))
    (record,) = read_records(folder / "index.tsv")
    assert record["status"] == "rejected" and record["reason"] == "no samples after offset 3 s"
    featurize_block([member], PARAMS, str(folder / "index.tsv"))
    assert read_records(folder / "index.tsv")[0]["status"] == "ok"


def test_the_decoded_audio_digest_finds_the_same_audio_in_another_format(folder):
    import soundfile

    samples, rate = soundfile.read(folder / "audio" / "a.00000.wav", dtype="int16")
    flac = write_audio(folder / "audio" / "copy.flac", samples, rate=rate, fmt="FLAC")
    other = items(folder, ["a.00001"])[0]
    copy = Item("copy", str(flac), str(folder / "png" / "copy.png"), "g")
    featurize_block([*items(folder, ["a.00000"]), copy, other], PARAMS, str(folder / "i.tsv"))
    digests = [r["audio_sha256"] for r in read_records(folder / "i.tsv")]
    assert digests[0] == digests[1] != digests[2] and len(digests[0]) == 64


def test_the_block_table_keeps_any_file_name(tmp_path):
    names = ["tab\there", "new\nline", 'quote " and , comma', "日本 é", os.fsdecode(b"caf\xe9")]
    rows = [{"key": f"k{i}", "name": n, "audio": n, "status": "ok"} for i, n in enumerate(names)]
    write_table(tmp_path / "i.tsv", pd.DataFrame(rows))
    assert [r["name"] for r in read_records(tmp_path / "i.tsv")] == names


def test_the_stamps_table_is_the_members_in_order_and_the_digest_moves_with_any_replacement(
    tmp_path,
):
    audio = write_audio(tmp_path / "x.wav", tone(0.5, rate=8000), rate=8000)
    item = [Item("x", str(audio), "x.png", "g", "x")]
    stamps = audio_stamps(item)
    assert members_of(stamps, ["out/x.png"]) == [Item("x", str(audio), "out/x.png", "g", "x")]
    with pytest.raises(ValueError):
        members_of(stamps, [])
    first = stamps_digest(item)
    assert stamps_digest(item) == first
    st = audio.stat()
    shutil.copy2(audio, tmp_path / "copy.wav")
    os.replace(tmp_path / "copy.wav", audio)  # same bytes and mtime (cp -p): new inode change time
    assert audio.stat().st_mtime_ns == st.st_mtime_ns and stamps_digest(item) != first


def test_the_set_index_joins_the_tables_and_names_a_png_changed_since(folder):
    first, second = items(folder, ["a.00000", "a.00002"])
    featurize_block([first], PARAMS, str(folder / "b0.tsv"))
    featurize_block([second], PARAMS, str(folder / "b2.tsv"))
    index = set_index([str(folder / "b0.tsv"), str(folder / "b2.tsv")])
    assert list(index["key"]) == ["a.00000", "a.00002"]
    Path(second.png).write_bytes(Path(second.png).read_bytes()[:100])
    with pytest.raises(DamagedSpectrogram, match=f"snakemake --forcerun '{second.png}'"):
        set_index([str(folder / "b0.tsv"), str(folder / "b2.tsv")])
