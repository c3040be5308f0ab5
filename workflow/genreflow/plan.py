"""What the workflow has to do, decided when the Snakefile is parsed: which tracks exist,
which are rejected and why, and which spectrograms are missing or out of date."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .demo import demo_track_ids
from .featurize import batch_of, is_up_to_date, n_batches_for, read_failure_record
from .tracks import Rejection, Track, discover_tracks, sniff_audio

DEMO_AUDIO_DIR = "results/demo/audio"


class ConfigError(ValueError):
    """A configuration that cannot work; the message starts with the offending key."""


@dataclass
class Plan:
    tracks: list[Track]  # tracks that go into the split
    rejected: list[Rejection] = field(default_factory=list)  # audio files skipped, with reasons
    ignored: list[Rejection] = field(default_factory=list)  # files that are not tracks at all
    batches: dict[str, list[Track]] = field(default_factory=dict)  # featurisation jobs to run


def spectrogram_path(track: Track, root: str = "results/spectrograms") -> str:
    return f"{root}/{track.genre}/{track.track_id}.png"


def failure_path(track: Track, root: str = "results/qc/failed") -> str:
    return f"{root}/{track.genre}/{track.track_id}.txt"


def is_demo(audio_dir: str) -> bool:
    return os.path.normpath(audio_dir) == os.path.normpath(DEMO_AUDIO_DIR)


def demo_tracks(genres: list[str], tracks_per_genre: int) -> list[Track]:
    return [Track(g, t, f"{DEMO_AUDIO_DIR}/{g}/{t}.wav") for g, t in demo_track_ids(genres, tracks_per_genre)]


def check_audio_dir(audio_dir: str, genres: list[str]) -> None:
    root = Path(audio_dir)
    if "{" in audio_dir or "}" in audio_dir:
        # Snakemake reads "{name}" in an input path as a wildcard and cannot escape it
        raise ConfigError(f"audio_dir: '{audio_dir}' contains '{{' or '}}'; rename the folder (Snakemake reads braces as wildcards)")
    if not root.is_dir():
        raise ConfigError(f"audio_dir: '{audio_dir}' is not a folder (set audio_dir, or download.url to fetch it)")
    missing = [g for g in genres if not (root / g).is_dir()]
    if missing:
        raise ConfigError(f"genres: no folder for {missing} in audio_dir '{audio_dir}' (unknown genre?)")


def classify_tracks(tracks: list[Track], known_bad: set[str], signature: str) -> tuple[list[Track], list[Rejection], list[Track]]:
    """Split tracks into (usable, rejected, stale): stale ones need a (new) spectrogram."""
    usable, rejected, stale = [], [], []
    for track in tracks:
        if track.track_id in known_bad:
            rejected.append(Rejection(track.audio, "listed in known_bad_tracks (known to be corrupt)", track.genre, track.track_id))
            continue
        png = spectrogram_path(track)
        if is_up_to_date(png, track.audio, signature):
            usable.append(track)
            continue
        reason = earlier_failure(track) or (None if not os.path.exists(track.audio) else sniff_audio(track.audio))
        if reason:
            rejected.append(Rejection(track.audio, reason, track.genre, track.track_id))
        else:
            usable.append(track)
            stale.append(track)
    return usable, rejected, stale


def earlier_failure(track: Track) -> str | None:
    """A decode failure recorded by an earlier featurisation job, unless the audio changed since."""
    record = failure_path(track)
    try:
        if os.stat(record).st_mtime < os.stat(track.audio).st_mtime:
            return None
    except FileNotFoundError:
        return None
    return read_failure_record(record)


def make_plan(config: dict, signature: str) -> Plan:
    genres = config["genres"]
    if is_demo(config["audio_dir"]):
        candidates, ignored = demo_tracks(genres, config["demo"]["tracks_per_genre"]), []
    else:
        check_audio_dir(config["audio_dir"], genres)
        candidates, ignored = discover_tracks(config["audio_dir"], genres)
    usable, rejected, stale = classify_tracks(candidates, set(config["known_bad_tracks"]), signature)
    return Plan(usable, rejected, ignored, make_batches(stale, len(candidates), config["featurize"]["batch_size"]))


def make_batches(stale: list[Track], n_candidates: int, batch_size: int) -> dict[str, list[Track]]:
    """Featurisation jobs, named so that a cluster job re-parsing the workflow finds the same ones.

    Buckets hash the track id over all candidates (not only the stale ones, which shrink while
    jobs finish). With ``batch_size: 1`` each track is its own job, named after the track, since
    hash buckets would put colliding tracks together.
    """
    batches: dict[str, list[Track]] = {}
    n_batches = n_batches_for(n_candidates, batch_size)
    for track in stale:
        key = track.track_id.replace(".", "_") if batch_size == 1 else f"{batch_of(track.track_id, n_batches):05d}"
        batches.setdefault(key, []).append(track)
    return dict(sorted(batches.items()))


def rejection_summary(plan: Plan, limit: int = 20) -> str:
    """The start-up warning: every rejected file (up to ``limit``) with its reason."""
    lines = [f"  {r.path}: {r.reason}" for r in plan.rejected[:limit]]
    if len(plan.rejected) > limit:
        lines.append(f"  ... and {len(plan.rejected) - limit} more")
    return "\n".join(
        [f"genreflow: {len(plan.rejected)} audio file(s) rejected and skipped (results/qc/rejected.tsv):", *lines]
    )


def check_plan(plan: Plan, config: dict, workflow_root: str = ".") -> None:
    """Start-up checks that need the data: strict mode, empty dataset, a split that cannot work."""
    if config["strict"] and plan.rejected:
        listing = "\n".join(f"  {r.path}: {r.reason}" for r in plan.rejected)
        raise ConfigError(f"strict: {len(plan.rejected)} audio file(s) rejected:\n{listing}")
    if not plan.tracks:
        why = f"\n{rejection_summary(plan)}" if plan.rejected else ""
        raise ConfigError(f"audio_dir: no usable track in '{config['audio_dir']}' (empty dataset){why}")
    if config["split"]["method"] != "fault_filtered":
        check_split_counts(plan.tracks, config["genres"], config["split"]["ratios"])
    check_split(plan.tracks, config["genres"], config["split"], workflow_root)


def check_split_counts(tracks: list[Track], genres: list[str], ratios: dict[str, float]) -> None:
    total = sum(ratios.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"split.ratios: must add up to 1, not {total:g}")
    needed = sum(1 for name in ("train", "val", "test") if ratios.get(name, 0) > 0)
    counts = Counter(t.genre for t in tracks)
    too_few = {g: counts[g] for g in genres if counts[g] < needed}
    if too_few:
        raise ConfigError(
            f"genres: too few usable tracks to split into {needed} parts: {too_few} "
            "(add audio, or remove the genre from genres)"
        )


def check_split(tracks: list[Track], genres: list[str], split_config: dict, workflow_root: str = ".") -> None:
    """Run the split on the track ids now (it is cheap), so that a genre left without training
    tracks fails at start-up instead of after featurisation."""
    from .split import Entry, SplitError, assign

    entries = [Entry(t.track_id, t.genre, spectrogram_path(t)) for t in tracks]
    try:
        assign(entries, split_config, genres, workflow_root)
    except (SplitError, OSError) as err:
        raise ConfigError(
            f"split: {err} with split.method '{split_config['method']}' on {len(tracks)} usable tracks "
            "(add audio, change split.ratios or split.method, or remove the genre from genres)"
        ) from err
