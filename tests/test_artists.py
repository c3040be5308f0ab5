"""Artist-aware evaluation (issue 20): artist names normalised for grouping, the shipped GTZAN
artist table, artist tables and sheet columns, exact duplicates, splits and folds that keep an
artist (and a recording) on one side, the kind of split, and what start-up says."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import GENRES, REPO, SHARED_DATA, make_dataset, requires_shared_data, run_snakemake

from genreflow.artists import (
    ArtistTableError,
    artist_groups,
    artist_sources,
    credited_names,
    duplicate_sets,
    duplicate_table,
    merge_groups,
    read_artist_table,
    read_artist_tables,
    sheet_artists,
    track_credits,
)
from genreflow.blocks import safe_id
from genreflow.experiments import assign_folds
from genreflow.split import (
    Entry,
    fold_counts,
    group_tracks,
    plan_split,
    split_by_hash,
    split_grouped,
    start_up_report,
    write_summary,
)
from genreflow.tables import read_table

SHIPPED = REPO / "config/artists/gtzan.tsv"
RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
HASH = {"method": "hash", "seed": 1337, "ratios": RATIOS, "group_by": "artist"}


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("Branford Marsalis", "Branford Marsalis Trio"),
        (
            "Leonard Bernstein & Israel Philharmonic Orchestra",
            "Leonard Bernstein & Los Angeles Philharmonic",
            "Los Angeles Philharmonic & Leonard Bernstein",
        ),
        (
            "Heinz Holliger & Camerata Bern",
            "Heinz Holliger, Thomas Zehetmair, Massimo Polidori & Andreas Erismann",
        ),
        ("Motörhead", "Motorhead"),
        ("Céline Dion", "Andrea Bocelli & Celine Dion"),
        ("The Gibson Brothers", "Gibson Brothers"),
        ("G.Q.", "GQ"),
        ("Dr. Dre feat. Snoop Dogg", "Dr Dre"),
        ("P!nk", "Pink"),
        ("Stevie Ray Vaughan & Double Trouble", "Stevie Ray Vaughan"),
    ],
)
def test_spellings_of_one_artist_share_a_name(spellings):
    first = credited_names(spellings[0])
    for other in spellings[1:]:
        assert first & credited_names(other), (spellings[0], other)


def test_different_artists_and_placeholders_share_no_name():
    assert not credited_names("John Lee Hooker") & credited_names("Robert Johnson")
    assert not credited_names("Joe Lovano") & credited_names("James Carter")
    assert credited_names("Various Artists") == frozenset()
    assert credited_names("") == frozenset()
    assert credited_names("The Band") == {"band"}, "a name made only of a suffix is kept"


def test_artist_groups_join_through_shared_names_and_keep_labels_when_tracks_are_added():
    credits = {
        "a1": "Leonard Bernstein & Israel Philharmonic Orchestra",
        "a2": "Los Angeles Philharmonic & Leonard Bernstein",
        "a3": "Los Angeles Philharmonic",  # joined through a2
        "b1": "James Carter",
        "b2": "James Carter",
        "c1": "",  # no artist: not grouped
    }
    groups = artist_groups(credits)
    assert groups["a1"] == groups["a2"] == groups["a3"] == "leonard bernstein"
    assert groups["b1"] == groups["b2"] == "james carter"
    assert "c1" not in groups
    more = artist_groups({**credits, "b3": "James Carter Quartet", "d1": "Joe Lovano"})
    assert all(more[t] == g for t, g in groups.items()), "adding tracks relabels nothing"


def test_merge_groups_joins_the_groups_of_duplicates():
    labels = {"x": "artist a", "y": "artist b", "z": "z", "w": "w"}
    merged = merge_groups(labels, [["y", "z"]])
    assert merged["y"] == merged["z"] != merged["x"]
    assert merged["w"] == "w"
    assert merge_groups(labels, []) == labels


# --- tables -----------------------------------------------------------------------------------


def test_a_later_table_corrects_an_earlier_one_and_an_empty_artist_means_unknown(tmp_path):
    shipped = tmp_path / "shipped.tsv"
    shipped.write_text(
        "# made by a tool\ntrack\tartist\tnote\nblues.00000\tJohn Lee Hooker\t\n"
        'country.00002\tSkream\twrong match\njazz.00037\tHenry "Red" Allen\t\n'
    )
    fixes = tmp_path / "fixes.tsv"
    fixes.write_text("track\tartist\ncountry.00002\t\nrock.00000\tMorphine\n")
    merged = read_artist_tables([shipped, fixes])
    assert merged["blues.00000"] == "John Lee Hooker"
    assert merged["jazz.00037"] == 'Henry "Red" Allen', "quotes are part of the name"
    assert merged["country.00002"] == "" and merged["rock.00000"] == "Morphine"
    credits = track_credits(
        [("blues.00000", "blues.00000"), ("country.00002", "country.00002")], merged, {}
    )
    assert credits == {"blues.00000": "John Lee Hooker"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("track\tname\nblues.00000\tx\n", "no column ['artist']"),
        ("track\tartist\nblues.00000\tx\nblues.00000\ty\n", "lists 1 track(s) twice: blues.00000"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key_and_the_file(tmp_path, content, message):
    table = tmp_path / "mine.tsv"
    table.write_text(content)
    with pytest.raises(ArtistTableError, match="split.artists") as err:
        read_artist_table(table)
    assert message in str(err.value) and str(table) in str(err.value)


def test_sheet_column_comes_first_then_tables_by_id_file_name_or_stem():
    import pandas as pd

    sheet = pd.DataFrame(
        {
            "path": ["music/blues.00000.wav", "music/x.wav", "music/y.wav"],
            "genre": ["blues", "rock", "rock"],
            "artist": ["Muddy Waters", "Morphine", ""],
        }
    )
    from_sheet = sheet_artists(sheet)
    assert from_sheet == {
        safe_id("music/blues.00000.wav"): "Muddy Waters",
        safe_id("music/x.wav"): "Morphine",
    }
    tables = {"blues.00000": "John Lee Hooker", "blues.00001": "John Lee Hooker", "y.wav": "Other"}
    tracks = [(safe_id(p), p) for p in sheet["path"]] + [
        (safe_id("a/blues.00001.au"), "a/blues.00001.au"),
        ("blues.00001", "blues.00001"),
    ]
    credits = track_credits(tracks, tables, from_sheet)
    assert credits[safe_id("music/blues.00000.wav")] == "Muddy Waters", "the sheet wins"
    assert credits[safe_id("music/y.wav")] == "Other", "an empty cell falls back to the tables"
    assert credits[safe_id("a/blues.00001.au")] == "John Lee Hooker", "by the file's stem"
    assert credits["blues.00001"] == "John Lee Hooker", "by the GTZAN track id"


def test_group_by_none_or_synthetic_audio_reads_no_table(tmp_path):
    assert (
        artist_sources({"group_by": "none", "artists": ["nowhere.tsv"]}, "", tmp_path).tables == []
    )
    assert (
        artist_sources({"group_by": "artist", "artists": ["x.tsv"]}, "", tmp_path, True).tables
        == []
    )
    with pytest.raises(ArtistTableError, match="split.artists: no such table"):
        artist_sources({"group_by": "artist", "artists": ["nowhere.tsv"]}, "", tmp_path)
    shipped = artist_sources(
        {"group_by": "artist", "artists": "config/artists/gtzan.tsv"}, "", REPO
    )
    assert [Path(t).resolve() for t in shipped.tables] == [SHIPPED], "a single path works too"
    assert artist_sources({"group_by": "artist", "artists": ""}, "", REPO).tables == []


# --- the shipped GTZAN table ------------------------------------------------------------------


def test_shipped_table_covers_gtzan_names_its_source_and_its_groups_are_current():
    header = [line for line in SHIPPED.read_text().splitlines() if line.startswith("#")]
    assert any("seungheondoh/gtzan-bind at commit " in line for line in header)
    assert any("licence" in line for line in header)
    table = read_artist_table(SHIPPED)
    assert len(table) == 1000 and set(Counter(t.split(".")[0] for t in table).values()) == {100}
    import pandas as pd

    rows = pd.read_csv(
        SHIPPED,
        sep="\t",
        dtype=str,
        keep_default_na=False,
        comment=None,
        skiprows=len(header),
        quoting=3,
    )
    recomputed = artist_groups(dict(zip(rows["track"], rows["artist"])))
    assert dict(zip(rows["track"], rows["artist_group"])) == {
        t: recomputed.get(t, "") for t in rows["track"]
    }, "rerun tools/make_gtzan_artists.py: the artist_group column is stale"
    skream = rows.set_index("track").loc["country.00002"]
    assert skream["artist"] == "" and "Skream" in skream["note"], "a known wrong match is dropped"
    unknown = rows[rows["artist"] == ""]
    assert (unknown["note"] != "").all(), "every track without an artist says why"


@requires_shared_data("gtzan-dev")
def test_shipped_table_agrees_with_the_shared_one_where_it_made_no_correction():
    shared = read_artist_table(SHARED_DATA / "artists.tsv")
    shipped = read_artist_table(SHIPPED)
    import pandas as pd

    notes = pd.read_csv(SHIPPED, sep="\t", dtype=str, keep_default_na=False, skiprows=6, quoting=3)
    notes = dict(zip(notes["track"], notes["note"]))
    for track, artist in shared.items():
        if not notes[track]:
            assert shipped[track] == artist, track
        else:  # a correction or a second credit: the shared artist is still one of its names
            assert "another recording" in notes[track] or credited_names(artist) <= credited_names(
                shipped[track]
            ), track


# --- duplicates -------------------------------------------------------------------------------


def test_duplicates_are_tracks_with_equal_decoded_audio():
    records = [
        {"key": "a", "label": "rock", "audio": "a.wav", "audio_sha256": "1" * 64},
        {"key": "b", "label": "pop", "audio": "b.wav", "audio_sha256": "2" * 64},
        {"key": "c", "label": "rock", "audio": "c.wav", "audio_sha256": "1" * 64},
        {"key": "d", "label": "rock", "audio": "d.wav", "audio_sha256": ""},
        {"key": "e", "label": "rock", "audio": "e.wav", "audio_sha256": ""},
    ]
    assert duplicate_sets(records) == [["a", "c"]], "an unknown digest is no duplicate"
    table = duplicate_table(records)
    assert list(table.columns) == ["set", "track", "genre", "audio", "audio_sha256"]
    assert table["track"].tolist() == ["a", "c"] and set(table["set"]) == {1}
    without_column = [{k: v for k, v in r.items() if k != "audio_sha256"} for r in records]
    assert duplicate_sets(without_column) == [] and duplicate_table(without_column).empty


def entries_of(tracks: dict[str, str], digests: dict[str, str] | None = None) -> list[Entry]:
    digests = digests or {}
    return [Entry(t, g, f"{t}.png", "", digests.get(t, "")) for t, g in tracks.items()]


def artist_collection(genres=("blues", "jazz", "rock"), artists=4, per_artist=5):
    """track -> genre and track -> artist: ``artists`` artists of ``per_artist`` tracks a genre."""
    tracks, credits = {}, {}
    for genre in genres:
        for a in range(artists):
            for i in range(per_artist):
                track = f"{genre}.{a * per_artist + i:05d}"
                tracks[track] = genre
                credits[track] = f"{genre} artist {a}"
    return tracks, credits


def sides(assignment, members):
    return {assignment[t] for t in members}


@pytest.mark.parametrize("method", ["hash", "ratio"])
def test_duplicates_stay_on_one_side_even_across_artists_and_genres(method):
    tracks, credits = artist_collection(artists=6)
    # a copy of a blues recording filed as jazz, and two copies within rock
    digests = {"blues.00000": "d1", "jazz.00029": "d1", "rock.00001": "d2", "rock.00027": "d2"}
    for seed in range(6):
        plan = plan_split(
            entries_of(tracks, digests),
            {**HASH, "method": method, "seed": seed},
            ["blues", "jazz", "rock"],
            credits=credits,
        )
        assert plan.grouping.duplicates == [
            ["blues.00000", "jazz.00029"],
            ["rock.00001", "rock.00027"],
        ]
        for members in plan.grouping.duplicates:
            assert len(sides(plan.assignment, members)) == 1, (seed, members)
        # and the artists they joined stay together too
        joined = [
            t for t in tracks if credits[t] in (credits["blues.00000"], credits["jazz.00029"])
        ]
        assert len(sides(plan.assignment, joined)) == 1


def test_a_fixed_split_that_separates_duplicates_is_named():
    tracks = {"a": "rock", "b": "rock", "c": "rock", "d": "rock"}
    plan = plan_split(
        entries_of(tracks, {"a": "x", "b": "x"}),
        HASH,
        ["rock"],
        fixed={"a": "train", "b": "test", "c": "val", "d": "train"},
    )
    assert any("same audio is in different splits: a (train), b (test)" in w for w in plan.warnings)
    assert plan.kind == "sample sheet split column"


# --- splits and folds -------------------------------------------------------------------------


def test_hash_split_by_artist_keeps_artists_together_and_is_stable_when_audio_is_added():
    tracks, credits = artist_collection(artists=8)
    plan = plan_split(entries_of(tracks), HASH, ["blues", "jazz", "rock"], credits=credits)
    assert plan.kind == "by artist"
    by_artist = defaultdict(set)
    for track, artist in credits.items():
        by_artist[artist].add(plan.assignment[track])
    assert all(len(s) == 1 for s in by_artist.values()), "an artist on both sides"
    assert len({s for s in plan.assignment.values()}) == 3
    # more tracks of known artists, and tracks of a new one: nothing moves
    more_tracks, more_credits = dict(tracks), dict(credits)
    for i in range(5):
        more_tracks[f"jazz.{100 + i:05d}"], more_credits[f"jazz.{100 + i:05d}"] = (
            "jazz",
            "jazz artist 1",
        )
        more_tracks[f"rock.{200 + i:05d}"], more_credits[f"rock.{200 + i:05d}"] = "rock", "New Band"
    after = plan_split(
        entries_of(more_tracks), HASH, ["blues", "jazz", "rock"], credits=more_credits
    )
    assert all(after.assignment[t] == s for t, s in plan.assignment.items())
    # by track, the same tracks split as the plain track hash does
    ungrouped = plan_split(
        entries_of(tracks), {**HASH, "group_by": "none"}, ["blues", "jazz", "rock"], credits=credits
    )
    assert ungrouped.assignment == split_by_hash(entries_of(tracks), RATIOS, 1337)
    assert ungrouped.kind == "random by track"


def test_a_genre_with_too_few_artists_is_split_by_track_and_the_kind_says_so():
    tracks, credits = artist_collection(artists=6)
    for i in range(30):  # rock: one artist only
        credits[f"rock.{i:05d}"] = "Morphine"
    entries = entries_of(tracks)
    grouping = group_tracks(entries, credits, parts=3)
    assert grouping.by_track == ["rock"] and grouping.artists["rock"] == 1
    assert grouping.label["rock.00000"] == "rock.00000", "by track: each its own group"
    plan = plan_split(entries, HASH, ["blues", "jazz", "rock"], credits=credits)
    assert plan.kind == "partly by track: rock"
    rock = [t for t in tracks if t.startswith("rock")]
    assert len(sides(plan.assignment, rock)) > 1
    # a genre nobody knows the artists of is split by track too
    none_known = {t: c for t, c in credits.items() if not t.startswith("blues")}
    assert group_tracks(entries, none_known, 3).by_track == ["blues", "rock"]
    assert (
        plan_split(entries, HASH, ["blues", "jazz", "rock"], credits={}).kind == "random by track"
    )


def test_a_genre_whose_artists_all_hash_out_of_training_falls_back_to_by_track():
    genres = ["blues", "jazz"]
    tracks, credits = artist_collection(genres, artists=3, per_artist=4)
    stranded = next(
        seed
        for seed in range(500)
        if "train"
        not in {
            split_by_hash(entries_of(tracks), RATIOS, seed, {t: credits[t] for t in tracks})[t]
            for t in tracks
            if t.startswith("jazz")
        }
    )
    plan = plan_split(entries_of(tracks), {**HASH, "seed": stranded}, genres, credits=credits)
    assert "jazz" in plan.grouping.by_track and "jazz" in plan.kind
    assert any(plan.assignment[t] == "train" for t in tracks if t.startswith("jazz"))
    assert any("fell outside the training part" in w for w in plan.warnings)


@pytest.mark.parametrize(
    "ratios, k, counts",
    [
        (RATIOS, 7, {"train": 5, "val": 1, "test": 1}),
        ({"train": 0.8, "val": 0.2, "test": 0.0}, 5, {"train": 4, "val": 1}),
        ({"train": 0.6, "val": 0.2, "test": 0.2}, 5, {"train": 3, "val": 1, "test": 1}),
        ({"train": 0.5, "val": 0.25, "test": 0.25}, 4, {"train": 2, "val": 1, "test": 1}),
    ],
)
def test_ratio_split_uses_whole_folds_close_to_the_asked_ratios(ratios, k, counts):
    assert fold_counts(ratios) == (k, counts)


def test_ratio_split_by_artist_is_stratified_disjoint_and_reproducible():
    genres = ["blues", "jazz", "rock", "pop"]
    tracks, credits = artist_collection(genres, artists=14, per_artist=3)
    entries = entries_of(tracks)
    groups = artist_groups(credits)
    assignment = split_grouped(entries, RATIOS, 1337, groups)
    assert set(assignment) == set(tracks)
    by_artist = defaultdict(set)
    for track, split in assignment.items():
        by_artist[groups[track]].add(split)
    assert all(len(s) == 1 for s in by_artist.values())
    per_genre = Counter((tracks[t], s) for t, s in assignment.items())
    for genre in genres:  # 14 artists a genre over 7 folds: 2 a fold
        assert (
            per_genre[(genre, "train")],
            per_genre[(genre, "val")],
            per_genre[(genre, "test")],
        ) == (30, 6, 6)
    assert split_grouped(list(reversed(entries)), RATIOS, 1337, groups) == assignment
    assert split_grouped(entries, RATIOS, 1, groups) != assignment


def test_folds_keep_an_artist_in_one_fold():
    tracks, credits = artist_collection(artists=5, per_artist=3)
    groups = artist_groups(credits)
    folds = assign_folds(((t, g, f"{t}.png") for t, g in tracks.items()), 5, 1337, groups)
    by_artist = defaultdict(set)
    for track, fold in folds.items():
        by_artist[groups[track]].add(fold)
    assert all(len(f) == 1 for f in by_artist.values())
    for genre in ("blues", "jazz", "rock"):
        assert (
            sorted(Counter(f for t, f in folds.items() if t.startswith(genre)).values()) == [3] * 5
        )


def test_summary_has_artists_split_by_and_the_achieved_and_asked_shares(tmp_path):
    tracks, credits = artist_collection(artists=6)
    for i in range(30):
        credits[f"rock.{i:05d}"] = "Morphine"
    entries = entries_of(tracks)
    plan = plan_split(entries, HASH, ["blues", "jazz", "rock"], credits=credits)
    write_summary(
        tmp_path / "s.tsv",
        entries,
        plan.assignment,
        ["blues", "jazz", "rock"],
        plan.grouping,
        RATIOS,
    )
    rows = [line.split("\t") for line in (tmp_path / "s.tsv").read_text().splitlines()]
    assert rows[0] == ["genre", "train", "val", "test", "total", "artists", "split_by"]
    assert rows[1][5:] == ["6", "artist"] and rows[3][5:] == ["1", "track"]
    assert [r[0] for r in rows[4:]] == ["total", "share", "asked"]
    assert rows[-1][1:5] == ["0.700", "0.150", "0.150", "1.000"]
    achieved = [float(x) for x in rows[-2][1:4]]
    assert sum(achieved) == pytest.approx(1.0, abs=0.002)
    assert achieved[0] == pytest.approx(int(rows[4][1]) / 90, abs=0.001)


# --- start-up ---------------------------------------------------------------------------------


def gtzan_dev_like():
    """The 50 gtzan-dev track ids with the shipped table's artists (no audio needed)."""
    jazz = ["jazz.00000", "jazz.00001", "jazz.00002", "jazz.00004", "jazz.00005"]
    tracks = [f"{g}.{i:05d}" for g in GENRES if g != "jazz" for i in range(5)] + jazz
    table = read_artist_table(SHIPPED)
    return [Entry(t, t.split(".")[0], "") for t in tracks], {
        t: table[t] for t in tracks if table[t]
    }


def test_start_up_names_the_genres_with_too_few_artists_and_what_the_run_does():
    entries, credits = gtzan_dev_like()
    plan = plan_split(entries, HASH, GENRES, credits=credits)
    lines = start_up_report(plan, entries, HASH, credits, folds=5)
    assert plan.kind == "partly by track: blues, classical, jazz, reggae, rock"
    split_line = next(line for line in lines if "than the split's 3 parts" in line)
    assert "blues (1), classical (1), jazz (2), reggae (1), rock (1)" in split_line
    assert "split by track" in split_line and "partly by track" in split_line
    folds_line = next(line for line in lines if "experiments.cv.folds (5)" in line)
    assert "hiphop (4)" in folds_line and "pop (4)" in folds_line
    assert any("1 of 50 track(s) have no artist" in line for line in lines), "country.00002"
    ungrouped = plan_split(entries, {**HASH, "group_by": "none"}, GENRES, credits=credits)
    quiet = start_up_report(ungrouped, entries, {**HASH, "group_by": "none"}, credits)
    assert ungrouped.kind == "random by track"
    assert not any("fewer artists" in line or "no artist" in line for line in quiet)


def test_start_up_warns_when_the_parts_are_far_from_the_asked_ratios():
    tracks, credits = artist_collection(artists=3, per_artist=10)
    entries = entries_of(tracks)
    plan = plan_split(entries, HASH, ["blues", "jazz", "rock"], credits=credits)
    lines = start_up_report(plan, entries, HASH, credits)
    assert any("far from split.ratios" in line and "asked 70.0%" in line for line in lines)


# --- the workflow -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_artist_table_is_an_input_of_the_split_and_a_correction_resplits(tmp_path):
    make_dataset(tmp_path / "audio", ["blues", "jazz", "rock"], 8, seconds=1.0)
    # an exact duplicate across two artists: the featurisation jobs record its audio_sha256 in
    # the set index, which the QC and split jobs read
    shutil.copy(tmp_path / "audio/jazz/jazz.00001.wav", tmp_path / "audio/jazz/jazz.00006.wav")
    table = tmp_path / "artists.tsv"
    table.write_text(
        "track\tartist\n"
        + "".join(
            f"{g}.{i:05d}\t{g} {i // 2}\n" for g in ("blues", "jazz", "rock") for i in range(8)
        )
    )
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump(
            {
                "audio_dir": "audio",
                "genres": ["blues", "jazz", "rock"],
                "spectrogram": {"kind": "logmel", "duration_s": 1.0},
                "train": {"recipe": "cnn", "window_s": 1.0},
                "split": {"artists": [str(table)]},
            }
        )
    )
    args = ("--cores", "2", "--configfile", str(tmp_path / "run.yaml"))
    run_snakemake(tmp_path, "results/split/manifest.csv", "results/qc/duplicates.tsv", *args)
    info = json.loads((tmp_path / "results/split/split.json").read_text())
    assert info["kind"] == "by artist" and info["artists_per_genre"] == {
        "blues": 4,
        "jazz": 4,
        "rock": 4,
    }
    manifest = (tmp_path / "results/split/manifest.csv").read_text().splitlines()[1:]
    split_of = {line.split(",")[0]: line.split(",")[2] for line in manifest}
    for g in ("blues", "jazz", "rock"):
        for i in range(0, 8, 2):
            assert split_of[f"{g}.{i:05d}"] == split_of[f"{g}.{i + 1:05d}"]
    duplicates = read_table(tmp_path / "results/qc/duplicates.tsv")
    assert list(duplicates["track"]) == ["jazz.00001", "jazz.00006"]
    assert set(duplicates["set"]) == {"1"} and duplicates["audio_sha256"].nunique() == 1
    assert info["duplicate_sets"] == [["jazz.00001", "jazz.00006"]]
    assert split_of["jazz.00001"] == split_of["jazz.00006"] == split_of["jazz.00007"]
    assert (
        "rule split:"
        not in run_snakemake(tmp_path, "-n", "results/split/manifest.csv", *args).stdout
    )
    table.write_text(table.read_text().replace("rock 3", "rock 0"))  # a correction
    dry = run_snakemake(tmp_path, "-n", "results/split/manifest.csv", *args)
    assert "rule split:" in dry.stdout and "artists.tsv" in dry.stdout


def test_a_missing_artist_table_stops_the_start_up_naming_the_key(tmp_path):
    make_dataset(tmp_path / "audio", ["blues", "jazz"], 3, seconds=0.5)
    proc = run_snakemake(
        tmp_path,
        "-n",
        "--config",
        "audio_dir=audio",
        "genres=[blues, jazz]",
        "split={artists: [nowhere.tsv]}",
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Invalid configuration: split.artists: no such table" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


@requires_shared_data("gtzan-dev")
def test_the_default_run_on_gtzan_dev_starts_and_names_its_one_artist_genres(tmp_path):
    """blues, classical, reggae and rock hold one artist each in gtzan-dev, jazz two: the run
    goes on, splitting them by track, and says so before any job."""
    proc = run_snakemake(
        tmp_path,
        "-n",
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/presets/tiny.yaml"),
        "--config",
        f"audio_dir={SHARED_DATA / 'gtzan-dev'}",
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert "blues (1), classical (1), jazz (2), reggae (1), rock (1)" in output
    assert "rule split:" in output and "rule train:" in output
    assert "splits by track at random" not in output, "the GTZAN by-track warning is for by track"


def test_the_gtzan_by_track_warning_comes_only_with_a_split_by_track(tmp_path):
    # GTZAN's country, disco and metal 00000-00007 hold several artists each
    make_dataset(tmp_path / "audio", ["country", "disco", "metal"], 8, seconds=0.5)
    common = ["-n", "--config", "audio_dir=audio", "genres=[country, disco, metal]"]
    by_track = run_snakemake(tmp_path, *common, "split={group_by: none}", timeout=120)
    assert "splits by track at random" in by_track.stdout + by_track.stderr
    by_artist = run_snakemake(tmp_path, *common, timeout=120)
    assert "splits by track at random" not in by_artist.stdout + by_artist.stderr


def test_duplicates_come_from_the_index_tables_audio_sha256_column(tmp_path):
    """The split, folds and qc jobs read the spectrogram set's index; its ``audio_sha256`` column
    makes equal digests one group, on one side of every split."""
    import pandas as pd

    from genreflow.blocks import read_records
    from genreflow.featurize import TABLE_FIELDS

    rows = [
        {f: "" for f in TABLE_FIELDS}
        | {"key": k, "label": g, "png": f"{k}.png", "status": "ok", "audio_sha256": d}
        for k, g, d in [
            ("rock.00001", "rock", "aa"),
            ("rock.00002", "rock", "bb"),
            ("pop.00007", "pop", "aa"),
            ("pop.00008", "pop", "cc"),
            ("pop.00009", "pop", "dd"),
            ("rock.00003", "rock", "ee"),
        ]
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "00000.tsv", sep="\t", index=False)
    records = read_records(tmp_path / "00000.tsv")
    entries = [  # as workflow/scripts/split.py builds them
        Entry(r["key"], r["label"], r["png"], r["png_sha256"], r.get("audio_sha256", ""))
        for r in records
    ]
    table = duplicate_table(records)
    assert table["track"].tolist() == ["pop.00007", "rock.00001"]
    grouping = group_tracks(entries, {}, parts=3)
    assert grouping.duplicates == [["pop.00007", "rock.00001"]]
    assert grouping.label["pop.00007"] == grouping.label["rock.00001"]
    for seed in range(10):
        assignment = split_by_hash(entries, RATIOS, seed, grouping.label)
        assert assignment["pop.00007"] == assignment["rock.00001"]
