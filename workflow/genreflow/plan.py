"""What the workflow works on, decided when the Snakefile is parsed: which tracks exist, which
featurisation block each belongs to, which are left out (and why), and the start-up checks.

Nothing here decides whether a spectrogram is up to date: every track's PNG is a declared output
of its block's rule at every run, and Snakemake decides which jobs run.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .blocks import Block, Item, block_name, left_out_reason, plan_blocks, read_index, safe_id
from .config import ConfigError
from .demo import demo_track_ids
from .tracks import Rejection, Track, discover_tracks, sniff_content

DEMO_AUDIO_DIR = "results/demo/audio"
SPECTROGRAM_ROOT = "results/spectrograms"


@dataclass
class Plan:
    blocks: dict[str, Block]
    ignored: list[Rejection] = field(default_factory=list)  # files that are not tracks at all
    missing: list[Rejection] = field(default_factory=list)  # sheet rows whose file does not exist
    fixed_split: dict[str, str] = field(default_factory=dict)  # track -> split, from the sheet

    @property
    def tracks(self) -> list[Item]:
        """Tracks that are featurised and go into the split."""
        return [item for block in self.blocks.values() for item in block.members]

    @property
    def rejected(self) -> list[Rejection]:
        """Audio files left out at start-up, with the reason."""
        left_out = [
            Rejection(item.audio, reason, item.label, item.key)
            for b in self.blocks.values()
            for item, reason in b.left_out
        ]
        return self.missing + left_out

    @property
    def indexes(self) -> list[str]:
        return [block.index for block in self.blocks.values()]


def spectrogram_path(genre: str, track_id: str, root: str = SPECTROGRAM_ROOT) -> str:
    return f"{root}/{genre}/{track_id}.png"


def index_path(block: str, root: str = SPECTROGRAM_ROOT) -> str:
    return f"{root}/index/{block}.tsv"


def as_item(track: Track) -> Item:
    return Item(
        track.track_id,
        track.audio,
        spectrogram_path(track.genre, track.track_id),
        track.genre,
        track.track_id,
    )


def is_demo(audio_dir: str) -> bool:
    return os.path.normpath(audio_dir) == os.path.normpath(DEMO_AUDIO_DIR)


def demo_tracks(genres: list[str], tracks_per_genre: int) -> list[Track]:
    return [
        Track(g, t, f"{DEMO_AUDIO_DIR}/{g}/{t}.wav")
        for g, t in demo_track_ids(genres, tracks_per_genre)
    ]


def check_audio_dir(audio_dir: str, genres: list[str]) -> None:
    root = Path(audio_dir)
    if "{" in audio_dir or "}" in audio_dir:
        # Snakemake reads "{name}" in an input path as a wildcard and cannot escape it
        raise ConfigError(
            f"audio_dir: '{audio_dir}' contains '{{' or '}}'; rename the folder (Snakemake reads braces as wildcards)"
        )
    if not root.is_dir():
        raise ConfigError(
            f"audio_dir: '{audio_dir}' is not a folder (set audio_dir, or download.url to fetch it)"
        )
    unnamed = [g for g in genres if not re.fullmatch(r"[a-z]+", g)]
    if unnamed:
        raise ConfigError(
            f"genres: {unnamed} cannot prefix GTZAN-layout file names (<genre>.NNNNN.wav takes lower-case letters); "
            "list such a collection in a sample sheet (tracks)"
        )
    missing = [g for g in genres if not (root / g).is_dir()]
    if missing:
        raise ConfigError(
            f"genres: no folder for {missing} in audio_dir '{audio_dir}' (unknown genre?)"
        )


@dataclass
class Collection:
    """What the workflow works on: a GTZAN-layout folder or a sample sheet, before any check."""

    items: list[Item]
    ignored: list[Rejection] = field(default_factory=list)
    missing: list[Rejection] = field(default_factory=list)
    fixed_split: dict[str, str] = field(default_factory=dict)


def genre_folders(audio_dir: str) -> list[str]:
    """The genres of a GTZAN-layout folder when the config lists none: its sub-folders."""
    return sorted(
        e.name for e in os.scandir(audio_dir) if e.is_dir() and not e.name.startswith(".")
    )


def find_tracks(config: dict) -> Collection:
    """The tracks in ``audio_dir`` (names only: nothing is opened), and what is not a track."""
    genres = config["genres"]
    if is_demo(config["audio_dir"]):
        return Collection(
            [as_item(t) for t in demo_tracks(genres, config["demo"]["tracks_per_genre"])]
        )
    check_audio_dir(config["audio_dir"], genres)
    tracks, ignored = discover_tracks(config["audio_dir"], genres)
    return Collection([as_item(t) for t in tracks], ignored)


def sheet_collection(table, sheet: str, genres: list[str]) -> Collection:
    """The tracks of a sample sheet (a validated table: path, genre, optional split).

    Paths are relative to the sheet's folder unless absolute; any file name works, since every
    track gets a safe id (slug + hash of its path) that names its spectrogram. Rows of genres not
    in ``genres``, files listed twice (however the path is spelt: the same audio in train and
    test would inflate every score) and files that do not exist are reported, never used.
    """
    base = os.path.dirname(os.path.abspath(sheet))
    collection, seen = Collection([]), {}
    fixed = "split" in table.columns
    for number, row in enumerate(table.to_dict("records"), start=2):  # row 1 is the header
        path, genre = row["path"], row["genre"]
        audio = path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))
        key, real = safe_id(path), os.path.realpath(audio)
        if genre not in genres:
            collection.ignored.append(
                Rejection(
                    audio, f"genre '{genre}' is not in genres (sheet row {number})", genre, key
                )
            )
        elif real in seen:
            collection.ignored.append(
                Rejection(
                    audio,
                    f"the same file as sheet row {seen[real]} (sheet row {number})",
                    genre,
                    key,
                )
            )
        elif not os.path.isfile(audio):
            collection.missing.append(
                Rejection(audio, f"no such file (sheet row {number})", genre, key)
            )
        else:
            seen[real] = number
            collection.items.append(Item(key, audio, spectrogram_path(genre, key), genre, path))
            if fixed:
                collection.fixed_split[key] = row["split"]
    return collection


def rerooted(plan: Plan, root: str, decided: dict[str, str] | None = None) -> dict[str, Block]:
    """The plan's blocks with the spectrograms (and index tables) under ``root``: another
    spectrogram set of the same tracks, left out as in the plan, and as its own jobs recorded
    (or, in a cluster job, as ``decided`` by the submitting process)."""
    blocks = {}
    for name, block in plan.blocks.items():
        move = lambda item: replace(item, png=spectrogram_path(item.label, item.key, root))  # noqa: E731
        moved = Block(
            name,
            index_path(name, root),
            left_out=[(move(i), reason) for i, reason in block.left_out],
        )
        if decided is None:
            moved.recorded = read_index(moved.index)
        for item in map(move, block.members):
            if decided is not None:
                reason = decided.get(item.key)
            else:  # the plan has sniffed the members already: only this set's own rejections count
                reason = left_out_reason(
                    item, moved.recorded.get(item.key), set(), sniff=lambda _: None
                )
            if reason:
                moved.left_out.append((item, reason))
            else:
                moved.members.append(item)
        blocks[name] = moved
    return blocks


def make_plan(
    collection: Collection,
    config: dict,
    decided: dict[str, str] | None = None,
    sniff: Callable[[str], str | None] = sniff_content,
) -> Plan:
    featurize = config["featurize"]
    blocks = plan_blocks(
        collection.items,
        block_of=lambda key: block_name(key, featurize["block_size"], featurize["hash_blocks"]),
        index_of=index_path,
        known_bad=set(config["known_bad_tracks"]),
        sniff=sniff,
        decided=decided,
    )
    return Plan(blocks, collection.ignored, collection.missing, collection.fixed_split)


def gtzan_split_warning(plan: Plan, config: dict, published: set[str]) -> str | None:
    """A warning when the tracks are GTZAN's and the split is a random one.

    GTZAN holds several clips of one artist (up to a dozen), often one after another; a random
    split by track puts the same artist in train and test, which inflates accuracy by 10-15
    points (Sturm 2013; Kereliuk, Sturm & Larsen 2015). The artist-disjoint fault-filtered split
    does not."""
    keys = {t.key for t in plan.tracks}
    if plan.fixed_split or config["split"]["method"] not in ("hash", "ratio") or len(keys) < 20:
        return None
    if len(keys & published) < 0.9 * len(keys):
        return None
    return (
        f"genreflow: these are GTZAN tracks ({len(keys & published)} of {len(keys)} in its published lists) and "
        f"split.method '{config['split']['method']}' splits by track at random: clips of one artist land in train "
        "and test, which inflates accuracy by 10-15 points. For results to compare with the literature use "
        "--config 'split={method: fault_filtered}' (artist-disjoint, Kereliuk, Sturm & Larsen 2015)."
    )


def published_gtzan_ids(lists: list[str | os.PathLike]) -> set[str]:
    """Track ids of the published GTZAN lists (``genre/genre.NNNNN.wav`` per line)."""
    return {
        Path(line.strip()).stem
        for path in lists
        for line in Path(path).read_text().splitlines()
        if line.strip()
    }


def rejection_summary(rejected: list[Rejection], limit: int = 20) -> str:
    """The start-up warning: every rejected file (up to ``limit``) with its reason."""
    lines = [f"  {r.path}: {r.reason}" for r in rejected[:limit]]
    if len(rejected) > limit:
        lines.append(f"  ... and {len(rejected) - limit} more")
    return "\n".join(
        [
            f"genreflow: {len(rejected)} audio file(s) rejected and skipped (results/qc/rejected.tsv):",
            *lines,
        ]
    )


def check_plan(plan: Plan, config: dict, workflow_root: str = ".", credits: dict | None = None):
    """Start-up checks that need the data: strict mode, empty dataset, a split that cannot work
    (with ``credits``, track -> artist, grouped as the split job will group it). Returns the
    split planned on the track ids (``genreflow.split.SplitPlan``)."""
    rejected = plan.rejected
    if config["strict"] and rejected:
        listing = "\n".join(f"  {r.path}: {r.reason}" for r in rejected)
        raise ConfigError(f"strict: {len(rejected)} audio file(s) rejected:\n{listing}")
    tracks = plan.tracks
    if not tracks:
        why = f"\n{rejection_summary(rejected)}" if rejected else ""
        source = (
            f"tracks: no usable track in the sheet '{config['tracks']}'"
            if config["tracks"]
            else f"audio_dir: no usable track in '{config['audio_dir']}'"
        )
        raise ConfigError(f"{source} (empty dataset){why}")
    if not plan.fixed_split and config["split"]["method"] != "fault_filtered":
        check_split_counts(tracks, config["genres"], config["split"]["ratios"])
    return check_split(
        tracks, config["genres"], config["split"], workflow_root, plan.fixed_split, credits
    )


def check_split_counts(tracks: list[Item], genres: list[str], ratios: dict[str, float]) -> None:
    total = sum(ratios.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"split.ratios: must add up to 1, not {total:g}")
    needed = sum(1 for name in ("train", "val", "test") if ratios.get(name, 0) > 0)
    counts = Counter(t.label for t in tracks)
    too_few = {g: counts[g] for g in genres if counts[g] < needed}
    if too_few:
        raise ConfigError(
            f"genres: too few usable tracks to split into {needed} parts: {too_few} "
            "(add audio, or remove the genre from genres)"
        )


def check_split(
    tracks: list[Item],
    genres: list[str],
    split_config: dict,
    workflow_root: str = ".",
    fixed: dict | None = None,
    credits: dict | None = None,
):
    """Run the split on the track ids now (it is cheap), so that a genre left without training
    tracks fails at start-up instead of after featurisation; returns it."""
    from .split import Entry, SplitError, plan_split

    entries = [Entry(t.key, t.label, t.png) for t in tracks]
    try:
        return plan_split(entries, split_config, genres, workflow_root, fixed, credits)
    except (SplitError, OSError) as err:
        raise ConfigError(
            f"split: {err} with split.method '{split_config['method']}' on {len(tracks)} usable tracks "
            "(add audio, change split.ratios or split.method, or remove the genre from genres)"
        ) from err
