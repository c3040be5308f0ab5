"""What the workflow works on, from the config and the audio folder or sheet alone: which
tracks exist (names; nothing under results/ is read), which block each belongs to, and the
checks that can be made before any job runs, which the split job makes again on what the
featurisation jobs decided.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .blocks import Block, Item, block_name, make_blocks, png_path, safe_id
from .config import ConfigError
from .demo import demo_track_ids
from .tracks import Rejection, Track, discover_tracks, sniff_content

KNOWN_BAD = "listed in known_bad_tracks (known to be corrupt)"
DEMO_AUDIO_DIR = "results/demo/audio"
SPECTROGRAM_ROOT = "results/spectrograms"


def as_item(track: Track) -> Item:
    png = png_path(SPECTROGRAM_ROOT, track.genre, track.track_id)
    return Item(track.track_id, track.audio, png, track.genre, track.track_id)


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
            png = png_path(SPECTROGRAM_ROOT, genre, key)
            collection.items.append(Item(key, audio, png, genre, path))
            if fixed:
                collection.fixed_split[key] = row["split"]
    return collection


@dataclass
class Plan:
    blocks: dict[str, Block]  # every track found by name; the block jobs decide which are usable
    left_out: list[Rejection]  # known_bad_tracks, by name
    collection: Collection

    @property
    def tracks(self) -> list[Item]:
        return [item for block in self.blocks.values() for item in block.members]


def make_plan(collection: Collection, config: dict) -> Plan:
    featurize, known_bad = config["featurize"], set(config["known_bad_tracks"])
    kept = [i for i in collection.items if i.key not in known_bad]
    left_out = [
        Rejection(i.audio, KNOWN_BAD, i.label, i.key)
        for i in collection.items
        if i.key in known_bad
    ]
    blocks = make_blocks(
        kept,
        SPECTROGRAM_ROOT,
        lambda key: block_name(key, featurize["block_size"], featurize["hash_blocks"]),
    )
    return Plan(blocks, collection.missing + left_out, collection)


def sniffed(items: list[Item]) -> list[Rejection]:
    """Files that are certainly not audio, from their first bytes (an empty file, a Git LFS
    pointer, an image, text): named at start-up. Their block jobs find them too and record them."""
    found = []
    for item in items:
        reason = sniff_content(item.audio) if os.path.lexists(item.audio) else None
        if reason:
            found.append(Rejection(item.audio, reason, item.label, item.key))
    return found


def gtzan_split_warning(plan: Plan, config: dict, published: set[str]) -> str | None:
    """A warning when the tracks are GTZAN's and the split is a random one.

    GTZAN holds several clips of one artist (up to a dozen), often one after another; a random
    split by track puts the same artist in train and test, which inflates accuracy by 10-15
    points (Sturm 2013; Kereliuk, Sturm & Larsen 2015). The artist-disjoint fault-filtered split
    does not."""
    keys = {t.key for t in plan.tracks}
    if (
        plan.collection.fixed_split
        or config["split"]["method"] not in ("hash", "ratio")
        or len(keys) < 20
    ):
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


def check_tracks(
    usable: list[Item], rejected: list[Rejection], config: dict, workflow_root: str = "."
) -> None:
    """Strict mode, an empty dataset, a split that cannot work: at start-up on the tracks found
    by name, and in the split job on those the featurisation jobs could use."""
    if config["strict"] and rejected:
        listing = "\n".join(f"  {r.path}: {r.reason}" for r in rejected)
        raise ConfigError(f"strict: {len(rejected)} audio file(s) rejected:\n{listing}")
    if not usable:
        why = f"\n{rejection_summary(rejected)}" if rejected else ""
        source = (
            f"tracks: no usable track in the sheet '{config['tracks']}'"
            if config["tracks"]
            else f"audio_dir: no usable track in '{config['audio_dir']}'"
        )
        raise ConfigError(f"{source} (empty dataset){why}")
    if not config.get("fixed_split") and config["split"]["method"] != "fault_filtered":
        check_split_counts(usable, config["genres"], config["split"]["ratios"])


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
        raise split_error(err, split_config, len(tracks), bool(fixed)) from err


def sheet_split_message(reason: str, tracks: int) -> str:
    """The split check's message when a sample sheet's split column decides the split: it names
    the column, not split.method or split.ratios, which are not used then."""
    reason = reason.removesuffix("; raise split.ratios.val")
    return (
        f"split: {reason} in the sample sheet's split column ({tracks} usable tracks; mark more "
        "rows train or val, add audio, or remove the genre from genres)"
    )


def split_error(err: Exception, split_config: dict, n_tracks: int, fixed: bool) -> ConfigError:
    """The same message at start-up and from the split job."""
    if fixed:  # the sheet's split column decides: split.method and split.ratios are not used
        return ConfigError(sheet_split_message(str(err), n_tracks))
    return ConfigError(
        f"split: {err} with split.method '{split_config['method']}' on {n_tracks} usable tracks "
        "(add audio, change split.ratios or split.method, or remove the genre from genres)"
    )
