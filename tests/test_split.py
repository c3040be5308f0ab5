from collections import Counter
from pathlib import Path

import pytest
from conftest import GENRES, SHARED_DATA, requires_shared_data

from genreflow.split import (
    Entry,
    SplitError,
    assign,
    build_tree,
    check_assignment,
    split_by_hash,
    split_by_lists,
    split_stratified,
    write_manifest,
    write_summary,
)
from genreflow.tables import read_manifest

RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def entries(per_genre: int, genres=GENRES, start: int = 0) -> list[Entry]:
    return [
        Entry(f"{g}.{i:05d}", g, f"spec/{g}/{g}.{i:05d}.png")
        for g in genres
        for i in range(start, start + per_genre)
    ]


def test_hash_split_keeps_every_existing_track_when_tracks_are_added():
    before = split_by_hash(entries(50), RATIOS, seed=1)
    after = split_by_hash(entries(50) + entries(30, start=50), RATIOS, seed=1)
    assert all(after[t] == s for t, s in before.items())


def test_hash_split_follows_the_ratios_and_the_seed():
    assignment = split_by_hash(entries(300), RATIOS, seed=1)
    counts = Counter(assignment.values())
    assert abs(counts["train"] / 3000 - 0.7) < 0.03 and abs(counts["test"] / 3000 - 0.15) < 0.03
    assert split_by_hash(entries(300), RATIOS, seed=2) != assignment
    assert split_by_hash(entries(300), RATIOS, seed=1) == assignment


def test_stratified_split_is_exact_per_genre_and_every_track_once():
    assignment = split_stratified(entries(10), {"train": 0.8, "val": 0.2}, seed=1337)
    assert len(assignment) == 100
    per_genre = Counter((t.split(".")[0], s) for t, s in assignment.items())
    assert all(per_genre[(g, "train")] == 8 and per_genre[(g, "val")] == 2 for g in GENRES)


def test_stratified_split_reproduces_split_folders(tmp_path):
    splitfolders = pytest.importorskip("splitfolders")
    src = tmp_path / "in"
    items = entries(13, genres=["blues", "jazz"])
    for e in items:
        path = src / e.genre / Path(e.spectrogram).name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for ratio in ((0.8, 0.2), (0.6, 0.2, 0.2)):
        out = tmp_path / f"out{len(ratio)}"
        splitfolders.ratio(str(src), output=str(out), seed=1337, ratio=ratio)
        expected = {p.stem: p.parent.parent.name for p in out.glob("*/*/*.png")}
        ours = split_stratified(items, dict(zip(("train", "val", "test"), ratio)), seed=1337)
        assert ours == expected


def test_split_lists_keep_published_assignment_and_name_the_rest(tmp_path):
    (tmp_path / "train.txt").write_text("blues/blues.00000.wav\nblues/blues.00001.wav\n")
    (tmp_path / "val.txt").write_text("blues/blues.00002.wav\n")
    assignment, unlisted = split_by_lists(
        entries(4, genres=["blues"]), {"train": tmp_path / "train.txt", "val": tmp_path / "val.txt"}
    )
    assert assignment == {"blues.00000": "train", "blues.00001": "train", "blues.00002": "val"}
    assert unlisted == ["blues.00003"]


@requires_shared_data("splits")
def test_shipped_fault_filtered_lists_equal_the_published_ones():
    repo_lists = Path(__file__).resolve().parents[1] / "config" / "splits"
    for name in ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"):
        assert (repo_lists / name).read_text() == (SHARED_DATA / "splits" / name).read_text()
    counts = [
        len((repo_lists / n).read_text().split())
        for n in ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt")
    ]
    assert counts == [443, 197, 290]


def test_check_assignment_rejects_a_genre_without_training_tracks():
    items = entries(3, genres=["blues", "jazz"])
    assignment = {e.track: ("val" if e.genre == "jazz" else "train") for e in items}
    with pytest.raises(SplitError, match="jazz"):
        check_assignment(items, assignment, ["blues", "jazz"])


def test_assign_dispatches_and_warns_about_unlisted_tracks(tmp_path):
    (tmp_path / "t.txt").write_text("blues/blues.00000.wav\njazz/jazz.00000.wav\n")
    (tmp_path / "v.txt").write_text("blues/blues.00001.wav\njazz/jazz.00001.wav\n")
    config = {
        "method": "fault_filtered",
        "seed": 0,
        "lists": {"train": tmp_path / "t.txt", "val": tmp_path / "v.txt"},
    }
    assignment, warnings = assign(entries(3, genres=["blues", "jazz"]), config, ["blues", "jazz"])
    assert len(assignment) == 4 and any("blues.00002" in w for w in warnings)


def test_manifest_summary_and_link_tree(tmp_path):
    items = []
    for e in entries(5, genres=["blues", "jazz"]):
        png = tmp_path / e.spectrogram
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(b"png")
        items.append(Entry(e.track, e.genre, str(png)))
    assignment = split_stratified(items, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3)
    write_manifest(tmp_path / "manifest.csv", items, assignment)
    rows = read_manifest(tmp_path / "manifest.csv")
    assert [r["track"] for r in rows] == sorted(e.track for e in items)
    trees = {s: tmp_path / "tree" / s for s in ("train", "val", "test")}
    build_tree(trees, rows, ["blues", "jazz", "rock"])
    assert (trees["test"] / "rock").is_dir()  # empty genre folders exist for Keras
    for row in rows:
        link = trees[row["split"]] / row["genre"] / f"{row['track']}.png"
        assert link.is_symlink() and link.read_bytes() == b"png"
    write_summary(tmp_path / "summary.tsv", items, assignment, ["blues", "jazz"])
    lines = (tmp_path / "summary.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["genre", "train", "val", "test", "total"]
    assert lines[-1].split("\t") == ["total", "6", "2", "2", "10"]


def test_relative_lists_fall_back_to_the_workflow_folder(tmp_path, monkeypatch):
    from genreflow.split import resolve_lists

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("")
    resolved = resolve_lists(
        {"train": "config/splits/train_filtered.txt", "val": "mine.txt"}, "/repo"
    )
    assert resolved == {
        "train": Path("/repo/config/splits/train_filtered.txt"),
        "val": Path("mine.txt"),
    }
