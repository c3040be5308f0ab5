"""Assigning tracks to train/val/test, writing the manifest and the folder tree Keras reads."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .tables import write_table

SPLITS = ("train", "val", "test")
MANIFEST_FIELDS = ("track", "genre", "split", "spectrogram", "sha256")


@dataclass(frozen=True)
class Entry:
    track: str
    genre: str
    spectrogram: str
    sha256: str = ""  # of the PNG, so that readers can tell a damaged file from the one made


class SplitError(ValueError):
    pass


def hash_fraction(track: str, seed: int) -> float:
    """A number in [0, 1) that depends only on the track id and the seed."""
    digest = hashlib.sha256(f"{seed}:{track}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_hash(
    entries: Iterable[Entry], ratios: Mapping[str, float], seed: int
) -> dict[str, str]:
    """Each track's split from a hash of its id: adding or removing tracks never moves another one."""
    bounds, total = [], 0.0
    for name in SPLITS:
        total += ratios.get(name, 0.0)
        bounds.append((total, name))
    assignment = {}
    for entry in entries:
        u = hash_fraction(entry.track, seed) * total
        assignment[entry.track] = next(name for bound, name in bounds if u < bound)
    return assignment


def split_stratified(
    entries: Iterable[Entry], ratios: Mapping[str, float], seed: int
) -> dict[str, str]:
    """split-folders' ``ratio`` method, run by split-folders itself: per genre, the sorted file
    names shuffled with the seed and cut at the ratios.

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
) -> tuple[dict[str, str], list[str]]:
    """Dispatch on ``split.method``; a sample sheet's split column (``fixed``) overrides it.
    Returns the assignment and warnings worth logging."""
    method, seed = split_config["method"], split_config["seed"]
    warnings: list[str] = []
    if fixed:
        assignment = {e.track: fixed[e.track] for e in entries}
    elif method == "hash":
        assignment = split_by_hash(entries, split_config["ratios"], seed)
    elif method == "ratio":
        assignment = split_stratified(entries, split_config["ratios"], seed)
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
    return assignment, warnings + check_assignment(entries, assignment, genres)


def write_summary(
    path: str | os.PathLike, entries: list[Entry], assignment: Mapping[str, str], genres: list[str]
) -> None:
    """Tracks per genre and split, with totals, as a TSV a person can read."""
    assigned = pd.DataFrame(
        [(e.genre, assignment[e.track]) for e in entries if e.track in assignment],
        columns=["genre", "split"],
    )
    counts = pd.crosstab(assigned["genre"], assigned["split"]).reindex(
        index=genres, columns=list(SPLITS), fill_value=0
    )
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum()
    write_table(path, counts.rename_axis("genre").reset_index())
