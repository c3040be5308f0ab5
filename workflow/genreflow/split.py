"""Assigning tracks to train/val/test, writing the manifest and the folder tree Keras reads.

Tracks that belong together (one artist's, and copies of one recording: ``genreflow.artists``)
stay on one side of the split, unless ``split.group_by`` is ``none``. A genre with fewer artists
than the split has parts is split by track, and the split says so (``split_kind``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings as python_warnings
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .artists import artist_groups, duplicate_sets, merge_groups
from .tables import write_table

SPLITS = ("train", "val", "test")
MANIFEST_FIELDS = ("track", "genre", "split", "spectrogram", "sha256")


@dataclass(frozen=True)
class Entry:
    track: str
    genre: str
    spectrogram: str
    sha256: str = ""  # of the PNG, so that readers can tell a damaged file from the one made
    audio_sha256: str = ""  # of the decoded samples, as featurisation recorded it


class SplitError(ValueError):
    pass


def hash_fraction(track: str, seed: int) -> float:
    """A number in [0, 1) that depends only on the track id and the seed."""
    digest = hashlib.sha256(f"{seed}:{track}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_hash(
    entries: Iterable[Entry],
    ratios: Mapping[str, float],
    seed: int,
    groups: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Each track's split from a hash of its group (``groups``: track -> group; the track id
    itself where it has none): adding or removing tracks never moves another one, and a group's
    tracks share a split."""
    bounds, total = [], 0.0
    for name in SPLITS:
        total += ratios.get(name, 0.0)
        bounds.append((total, name))
    groups = groups or {}
    assignment = {}
    for entry in entries:
        u = hash_fraction(groups.get(entry.track, entry.track), seed) * total
        assignment[entry.track] = next(name for bound, name in bounds if u < bound)
    return assignment


def split_stratified(
    entries: Iterable[Entry], ratios: Mapping[str, float], seed: int
) -> dict[str, str]:
    """split-folders' ``ratio`` method, run by split-folders itself: per genre, the sorted file
    names shuffled with the seed and cut at the ratios. Used only with ``split.group_by: none``
    (the blog preset's published 80/20 split); grouped ratio splits are ``split_grouped``.

    It works on a staging tree that holds exactly these tracks' PNGs (links; an empty placeholder
    where a PNG is not made yet, at start-up: split-folders only looks at the names), and the
    assignment is read back from the folders it moved them to.
    """
    import splitfolders

    names = [name for name in SPLITS if ratios.get(name, 0.0) > 0]
    by_name = {}
    with tempfile.TemporaryDirectory(prefix="genreflow-split-") as tmp:
        staging, result = Path(tmp) / "tracks", Path(tmp) / "split"
        for entry in entries:
            source = Path(entry.spectrogram)
            link = staging / entry.genre / source.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if source.exists():
                link.symlink_to(source.resolve())
            else:
                link.touch()
            by_name[(entry.genre, source.name)] = entry.track
        if not by_name:
            return {}
        splitfolders.ratio(
            str(staging),
            output=str(result),
            seed=seed,
            ratio=tuple(ratios[n] for n in names),
            move=True,
        )
        # split-folders names its folders train/val(/test) whatever the ratios' names
        return {
            by_name[(f.parent.name, f.name)]: f.parent.parent.name for f in result.glob("*/*/*")
        }


MAX_FOLDS = 20
FAR_APART = 0.05 + 1e-9  # an achieved share this far from the asked one is warned about
CLOSE_ENOUGH = 0.025  # of a share: whole folds within 2.5 points of every asked ratio


def fold_counts(ratios: Mapping[str, float]) -> tuple[int, dict[str, int]]:
    """The ratio split as whole folds: the fewest folds k (up to 20) that give every asked share
    within 2.5 points, and how many of them each split takes (70/15/15: 7 folds, 5/1/1; 80/20:
    5 folds, 4/1), or the closest k when none does."""
    names = [name for name in SPLITS if ratios.get(name, 0.0) > 0]
    total = sum(ratios[name] for name in names)
    best: tuple[float, int, dict[str, int]] | None = None
    for k in range(len(names), MAX_FOLDS + 1):
        counts = {name: max(1, round(ratios[name] / total * k)) for name in names[1:]}
        counts = {names[0]: k - sum(counts.values()), **counts}
        if counts[names[0]] < 1:
            continue
        error = max(abs(counts[n] / k - ratios[n] / total) for n in names)
        if best is None or error < best[0] - 1e-9:
            best = (error, k, counts)
        if error <= CLOSE_ENOUGH:
            break
    assert best is not None
    return best[1], best[2]


def stratified_group_folds(labels: list[str], groups: list[str], k: int, seed: int) -> list[int]:
    """Each item's fold (0..k-1) by scikit-learn's ``StratifiedGroupKFold`` (shuffled with the
    seed): a group's items share a fold, and each fold holds the labels in about the shares of
    the whole. Raises SplitError when there are fewer groups than folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    if len(set(groups)) < k:
        raise SplitError(
            f"{len(set(groups))} group(s) of tracks cannot fill {k} folds "
            "(add audio, use fewer folds, or set split.group_by: none)"
        )
    folds = np.zeros(len(labels), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with python_warnings.catch_warnings():
        # "the least populated class has fewer members than n_splits": the start-up says which
        # genres have fewer artists than folds, and what is done about it
        python_warnings.simplefilter("ignore", UserWarning)
        for fold, (_, members) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
            folds[members] = fold
    return folds.tolist()


def split_grouped(
    entries: Iterable[Entry], ratios: Mapping[str, float], seed: int, groups: Mapping[str, str]
) -> dict[str, str]:
    """The ``ratio`` split with groups kept together: scikit-learn's ``StratifiedGroupKFold``
    deals the groups into k folds stratified by genre (``fold_counts``), and whole folds make
    the test, validation and training parts.

    Why this splitter: ``GroupShuffleSplit`` keeps groups together too but ignores the genres,
    so a genre could lose its whole test part; ``StratifiedGroupKFold`` balances the genres
    over the folds. The price is that the shares are those of whole folds and of whole groups:
    the split job reports how far they are from the asked ones."""
    ordered = sorted(entries, key=lambda e: e.track)  # the same split whatever the input order
    if not ordered:
        return {}
    k, counts = fold_counts(ratios)
    roles = [name for name in ("test", "val", "train") for _ in range(counts.get(name, 0))]
    folds = stratified_group_folds(
        [e.genre for e in ordered], [groups.get(e.track, e.track) for e in ordered], k, seed
    )
    return {e.track: roles[fold] for e, fold in zip(ordered, folds)}


@dataclass
class Grouping:
    """Which tracks the split keeps together, and which genres it splits by track."""

    label: dict[str, str]  # track -> its group (the track id itself when it has none)
    artists: dict[str, int]  # genre -> its artist groups (tracks without an artist not counted)
    by_track: list[str]  # genres split by track: too few artists, or no artist known
    without_artist: int  # tracks that no source names an artist for
    duplicates: list[list[str]] = field(default_factory=list)  # same decoded audio


def group_tracks(
    entries: list[Entry],
    credits: Mapping[str, str],
    parts: int,
    group_by: str = "artist",
    by_track: Collection[str] = (),
) -> Grouping:
    """The groups of a split into ``parts`` parts (or folds).

    With ``group_by: artist`` a track's group is its artist group (``artists.artist_groups``),
    a track without an artist a group of its own; a genre with fewer groups than ``parts``, or
    with no artist known, or named in ``by_track``, is split by track (each track its own group). With ``none`` every genre is. In both cases
    tracks with the same decoded audio (``Entry.audio_sha256``) are then merged into one group.
    """
    tracks = {e.track for e in entries}
    known = (
        artist_groups({t: c for t, c in credits.items() if t in tracks})
        if group_by == "artist"
        else {}
    )
    groups: dict[str, set[str]] = defaultdict(set)  # a track without an artist: its own
    for e in entries:
        groups[e.genre].add(known.get(e.track, "\0" + e.track))
    artists = {g: sum(not name.startswith("\0") for name in found) for g, found in groups.items()}
    split_by_track = sorted(
        genre
        for genre, found in groups.items()
        if genre in by_track or not artists[genre] or len(found) < parts
    )
    label = {
        e.track: e.track if e.genre in split_by_track else known.get(e.track, e.track)
        for e in entries
    }
    duplicates = duplicate_sets({"key": e.track, "audio_sha256": e.audio_sha256} for e in entries)
    return Grouping(
        merge_groups(label, duplicates),
        artists,
        split_by_track,
        len(tracks - set(known)) if group_by == "artist" else len(tracks),
        duplicates,
    )


FIXED_KIND = "sample sheet split column"
LISTS_KIND = "published fault-filtered lists (artist-disjoint)"


def split_kind(method: str, fixed: bool, grouping: Grouping) -> str:
    """Which kind of split the scores come from, in the words the report uses: "random by
    track", "by artist", "partly by track: <genres>", the published fault-filtered lists, or a
    sample sheet's split column."""
    if fixed:
        return FIXED_KIND
    if method == "fault_filtered":
        return LISTS_KIND
    if len(grouping.by_track) == len(grouping.artists):
        return "random by track"
    if grouping.by_track:
        return "partly by track: " + ", ".join(grouping.by_track)
    return "by artist"


@dataclass
class SplitPlan:
    assignment: dict[str, str]
    warnings: list[str]
    kind: str
    grouping: Grouping


def parts_of(ratios: Mapping[str, float]) -> int:
    return sum(1 for name in SPLITS if ratios.get(name, 0.0) > 0)


def split_apart(duplicates: list[list[str]], assignment: Mapping[str, str]) -> list[str]:
    """Warnings for copies of one recording that a fixed split (lists, a sheet's column,
    split-folders) puts into different parts."""
    return [
        "the same audio is in different splits: "
        + ", ".join(f"{t} ({assignment[t]})" for t in tracks if t in assignment)
        for tracks in duplicates
        if len({assignment[t] for t in tracks if t in assignment}) > 1
    ]


def plan_split(
    entries: list[Entry],
    split_config: Mapping,
    genres: list[str],
    workflow_root: str | os.PathLike = ".",
    fixed: Mapping[str, str] | None = None,
    credits: Mapping[str, str] | None = None,
) -> SplitPlan:
    """Dispatch on ``split.method``; a sample sheet's split column (``fixed``) overrides it.
    ``credits`` (track -> artist) group the tracks unless ``split.group_by`` is ``none``; a
    grouped genre that the split leaves without a training track falls back to by track."""
    method, seed = split_config["method"], split_config["seed"]
    ratios = split_config.get("ratios", {})
    group_by = split_config.get("group_by", "artist")
    grouping = group_tracks(entries, credits or {}, parts_of(ratios), group_by)
    warnings: list[str] = []
    if fixed:
        assignment = {e.track: fixed[e.track] for e in entries}
    elif method in ("hash", "ratio"):
        assignment = random_split(entries, ratios, seed, method, group_by, grouping)
        stranded = sorted(
            {e.genre for e in entries if e.genre not in grouping.by_track}
            - {e.genre for e in entries if assignment[e.track] == "train"}
        )
        if stranded:
            warnings.append(
                f"genre(s) {', '.join(stranded)}: every artist fell outside the training part; "
                "split by track instead"
            )
            grouping = group_tracks(
                entries, credits or {}, parts_of(ratios), group_by, grouping.by_track + stranded
            )
            assignment = random_split(entries, ratios, seed, method, group_by, grouping)
    elif method == "fault_filtered":
        assignment, unlisted = split_by_lists(
            entries, resolve_lists(split_config["lists"], workflow_root)
        )
        if unlisted:
            shown = ", ".join(unlisted[:10]) + (" ..." if len(unlisted) > 10 else "")
            warnings.append(
                f"{len(unlisted)} track(s) are not in the published lists and are left out: {shown}"
            )
    else:
        raise SplitError(f"split.method: unknown method '{method}'")
    warnings += split_apart(grouping.duplicates, assignment)
    return SplitPlan(
        assignment,
        warnings + check_assignment(entries, assignment, genres),
        split_kind(method, bool(fixed), grouping),
        grouping,
    )


def random_split(
    entries: list[Entry],
    ratios: Mapping[str, float],
    seed: int,
    method: str,
    group_by: str,
    grouping: Grouping,
) -> dict[str, str]:
    if method == "hash":
        return split_by_hash(entries, ratios, seed, grouping.label)
    if group_by == "none":  # the published split-folders split (blog preset), by track
        return split_stratified(entries, ratios, seed)
    return split_grouped(entries, ratios, seed, grouping.label)


def shares(entries: Iterable[Entry], assignment: Mapping[str, str]) -> dict[str, float]:
    """The share of the assigned tracks in each part."""
    counts = Counter(assignment[e.track] for e in entries if e.track in assignment)
    total = sum(counts.values()) or 1
    return {name: counts[name] / total for name in SPLITS}


def ratio_gap(asked: Mapping[str, float], achieved: Mapping[str, float]) -> float:
    """The largest difference between an asked and an achieved share, in points of 1."""
    total = sum(asked.values()) or 1
    return max(abs(achieved.get(n, 0.0) - asked.get(n, 0.0) / total) for n in SPLITS)


def ratio_line(asked: Mapping[str, float], achieved: Mapping[str, float]) -> str:
    """ "train 64.0% (asked 70.0%), ...; largest gap 6.0 points"."""
    total = sum(asked.values()) or 1
    parts = [
        f"{n} {achieved.get(n, 0.0):.1%} (asked {asked.get(n, 0.0) / total:.1%})" for n in SPLITS
    ]
    return f"{', '.join(parts)}; largest gap {ratio_gap(asked, achieved) * 100:.1f} points"


def read_split_lists(lists: Mapping[str, str | os.PathLike]) -> dict[str, str]:
    """Published split lists (``genre/genre.NNNNN.wav`` per line) as track id -> split."""
    assignment = {}
    for name, path in lists.items():
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if line:
                assignment[Path(line).stem] = name
    return assignment


def resolve_lists(lists: Mapping[str, str], workflow_root: str | os.PathLike) -> dict[str, Path]:
    """Relative list paths are looked up in the working directory, then in the workflow's folder
    (so the shipped ``config/splits`` work from any working directory, and the config itself
    stays free of absolute paths that would change with every checkout)."""
    resolved = {}
    for name, path in lists.items():
        candidate = Path(path)
        resolved[name] = (
            candidate
            if candidate.is_absolute() or candidate.exists()
            else Path(workflow_root) / candidate
        )
    return resolved


def split_by_lists(
    entries: Iterable[Entry], lists: Mapping[str, str | os.PathLike]
) -> tuple[dict[str, str], list[str]]:
    """Tracks in the published lists keep their split; the others are left out and named."""
    listed = read_split_lists(lists)
    assignment, unlisted = {}, []
    for entry in entries:
        if entry.track in listed:
            assignment[entry.track] = listed[entry.track]
        else:
            unlisted.append(entry.track)
    return assignment, unlisted


def summarise(entries: Iterable[Entry], assignment: Mapping[str, str]) -> dict[str, Counter]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for entry in entries:
        if entry.track in assignment:
            counts[entry.genre][assignment[entry.track]] += 1
    return counts


def check_assignment(
    entries: list[Entry], assignment: Mapping[str, str], genres: list[str]
) -> list[str]:
    """Errors that make training meaningless, and warnings that only weaken evaluation."""
    if not any(split == "train" for split in assignment.values()):
        raise SplitError("the split has no training track")
    if not any(split == "val" for split in assignment.values()):
        raise SplitError("the split has no validation track; raise split.ratios.val")
    counts = summarise(entries, assignment)
    warnings = []
    for genre in genres:
        if counts[genre]["train"] == 0:
            raise SplitError(
                f"genre '{genre}' has no training track ({dict(counts[genre]) or 'no tracks'})"
            )
        for name in ("val", "test"):
            if counts[genre][name] == 0 and any(s == name for s in assignment.values()):
                warnings.append(f"genre '{genre}' has no track in '{name}'")
    return warnings


def write_manifest(
    path: str | os.PathLike, entries: list[Entry], assignment: Mapping[str, str]
) -> None:
    rows = [
        (e.track, e.genre, assignment[e.track], e.spectrogram, e.sha256)
        for e in entries
        if e.track in assignment
    ]
    table = pd.DataFrame(rows, columns=list(MANIFEST_FIELDS)).sort_values(["genre", "track"])
    write_table(path, table, sep=",")


def link_or_copy(source: Path, link: Path) -> None:
    """A relative symlink where the file system allows it, else a hard link, else a copy."""
    try:
        link.symlink_to(os.path.relpath(source, link.parent))
        return
    except OSError:
        pass
    try:
        os.link(source, link)
    except OSError:
        shutil.copy2(source, link)


def build_tree(
    tree_dirs: Mapping[str, str | os.PathLike], rows: list[dict[str, str]], genres: list[str]
) -> None:
    """``<split>/<genre>/<track>.png`` links, with every genre folder present even when empty
    (``image_dataset_from_directory`` infers classes from folders)."""
    for folder in tree_dirs.values():
        root = Path(folder)
        if root.exists():
            shutil.rmtree(root)
        for genre in genres:
            (root / genre).mkdir(parents=True, exist_ok=True)
    for row in rows:
        if row["split"] in tree_dirs:
            source = Path(row["spectrogram"]).resolve()
            link_or_copy(source, Path(tree_dirs[row["split"]]) / row["genre"] / source.name)


def assign(
    entries: list[Entry],
    split_config: Mapping,
    genres: list[str],
    workflow_root: str | os.PathLike = ".",
    fixed: Mapping[str, str] | None = None,
    credits: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """``plan_split``'s assignment and the warnings worth logging."""
    plan = plan_split(entries, split_config, genres, workflow_root, fixed, credits)
    return plan.assignment, plan.warnings


def write_summary(
    path: str | os.PathLike,
    entries: list[Entry],
    assignment: Mapping[str, str],
    genres: list[str],
    grouping: Grouping | None = None,
    asked: Mapping[str, float] | None = None,
) -> None:
    """Tracks per genre and split, with totals, as a TSV a person can read; with ``grouping``
    also each genre's artist groups and whether it was split by artist or by track, and two
    last rows: the share of each part, and (``asked``) the asked ratios."""
    assigned = pd.DataFrame(
        [(e.genre, assignment[e.track]) for e in entries if e.track in assignment],
        columns=["genre", "split"],
    )
    counts = pd.crosstab(assigned["genre"], assigned["split"]).reindex(
        index=genres, columns=list(SPLITS), fill_value=0
    )
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum()
    table = counts.rename_axis("genre").reset_index().astype(object)
    if grouping is not None:
        table["artists"] = [grouping.artists.get(g, 0) for g in genres] + [""]
        table["split_by"] = ["track" if g in grouping.by_track else "artist" for g in genres] + [""]
        achieved = shares(entries, assignment)
        rows = [["share", *(f"{achieved[n]:.3f}" for n in SPLITS), "1.000", "", ""]]
        if asked:
            total = sum(asked.values()) or 1
            rows.append(
                ["asked", *(f"{asked.get(n, 0.0) / total:.3f}" for n in SPLITS), "1.000", "", ""]
            )
        table = pd.concat([table, pd.DataFrame(rows, columns=table.columns)], ignore_index=True)
    write_table(path, table)


def describe(plan: SplitPlan, entries: list[Entry], split_config: Mapping, fixed: bool) -> dict:
    """What the split was, for metrics.json and the report: its kind, the asked and achieved
    shares, the genres split by track and the exact duplicates kept together."""
    random = not fixed and split_config["method"] in ("hash", "ratio")
    achieved = shares(entries, plan.assignment)
    return {
        "kind": plan.kind,
        "method": "sample sheet" if fixed else split_config["method"],
        "group_by": split_config.get("group_by", "artist"),
        "seed": split_config["seed"],
        "asked": dict(split_config["ratios"]) if random else None,
        "achieved": achieved,
        "largest_gap": ratio_gap(split_config["ratios"], achieved) if random else None,
        "genres_by_track": plan.grouping.by_track,
        "artists_per_genre": plan.grouping.artists,
        "tracks_without_artist": plan.grouping.without_artist,
        "duplicate_sets": plan.grouping.duplicates,
    }


def start_up_report(
    plan: SplitPlan,
    entries: list[Entry],
    split_config: Mapping,
    credits: Mapping[str, str],
    folds: int | None = None,
) -> list[str]:
    """What start-up should say about the split ``plan_split`` planned on the track ids: genres
    with too few artists for the split's parts (or for ``folds``, the experiments' folds) and
    what happens to them, tracks without an artist, and parts far from the asked ratios."""
    if plan.kind in (FIXED_KIND, LISTS_KIND):
        return []
    lines = []
    grouping, parts = plan.grouping, parts_of(split_config["ratios"])
    if split_config.get("group_by", "artist") == "artist" and credits:
        lines += too_few_artists(grouping, parts, f"the split's {parts} parts")
        stranded = [w for w in plan.warnings if "fell outside the training part" in w]
        lines += [f"genreflow: {w}; the headline says '{plan.kind}'" for w in stranded]
        if grouping.without_artist:
            lines.append(
                f"genreflow: {grouping.without_artist} of {len(entries)} track(s) have no artist "
                "in split.artists or the sample sheet: each is split as a group of its own"
            )
        if folds:
            lines += too_few_artists(
                group_tracks(entries, credits, folds),
                folds,
                f"experiments.cv.folds ({folds})",
                "dealt into the folds",
            )
    asked, achieved = split_config["ratios"], shares(entries, plan.assignment)
    if ratio_gap(asked, achieved) > FAR_APART:
        why = "whole artists and " if split_config.get("group_by", "artist") == "artist" else ""
        lines.append(
            f"genreflow: the split's parts are far from split.ratios ({why}a random split of few "
            f"tracks move in large steps): {ratio_line(asked, achieved)}"
        )
    return lines


def too_few_artists(grouping: Grouping, parts: int, what: str, done: str = "split") -> list[str]:
    """The warning for genres that have artists, but too few to be split by artist."""
    few = {g: grouping.artists[g] for g in grouping.by_track if 0 < grouping.artists[g] < parts}
    if not few:
        return []
    listed = ", ".join(f"{g} ({n})" for g, n in few.items())
    return [
        f"genreflow: {len(few)} genre(s) have fewer artists than {what}: {listed}. Their tracks "
        f"are {done} by track, so one artist's clips can be on both sides and flatter the score "
        f"(the headline says 'partly by track: ...'); clips by other artists would fix it."
    ]
