"""Featurisation blocks: which audio files share a job, what each job's index table records, and
which files are left out at start-up (and why).

Every spectrogram is a declared output of its block's rule, before and after any run, so that
Snakemake decides what runs (forcing, rerun triggers, ``--delete-all-output``, ``--summary``).
A block groups files by a key that never changes when files are added: the track number range
for GTZAN names (``blues.00042`` and ``jazz.00042`` share block ``00000`` with block size 50), a
hash of the key otherwise. The block's job rewrites only the members that need it (its PNG
outputs are ``update()`` outputs), and records every member in the block's index table: the
record later start-ups read instead of opening the audio again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .tables import read_table, write_table

INDEX_FIELDS = (
    "key",
    "label",
    "name",
    "audio",
    "png",
    "status",
    "reason",
    "audio_stamp",
    "png_bytes",
    "png_sha256",
    "source_rate",
    "channels",
    "format",
    "subtype",
    "duration_s",
    "notes",
)
OK, REJECTED = "ok", "rejected"
KNOWN_BAD = "listed in known_bad_tracks (known to be corrupt)"
# Start-up decisions travel to cluster jobs in the environment, so that a job's own start-up
# reads no audio file (SLURM's sbatch exports the submitting environment).
LEFT_OUT_ENV = "GENREFLOW_LEFT_OUT"
# What each featurisation job has to rebuild beyond its stale members, set at the start of a run.
REBUILD_ENV = "GENREFLOW_REBUILD"
REBUILD_ALL = "all"
_NUMBERED = re.compile(r"\.(\d+)$")
# Snakemake reads "{name}" in a path as a wildcard, with no way to escape it; such paths cannot
# be declared as rule inputs (broader than Snakemake's own pattern, on purpose).
_BRACED = re.compile(r"\{[^{}]*\}")
SLUG_MAX = 48
HASH_CHARS = 10


@dataclass(frozen=True)
class Item:
    """One audio file of a collection and the spectrogram made from it."""

    key: str  # unique in its collection: a track id (blues.00042) or a safe id
    audio: str  # the file read
    png: str  # the declared spectrogram output
    label: str = ""  # genre ("" when unknown, as for predict)
    name: str = ""  # what tables show: the track id, or a path relative to the predict folder


@dataclass
class Block:
    name: str
    index: str  # the block's index table, its job's first output: <root>/index/<name>.tsv
    members: list[Item] = field(default_factory=list)  # featurised by the block's job
    left_out: list[tuple[Item, str]] = field(
        default_factory=list
    )  # (item, reason), decided at start-up
    recorded: dict[str, dict[str, str]] = field(default_factory=dict)  # the index of its last run

    @property
    def audio_table(self) -> str:
        """The members' audio files and their stamps: <root>/audio/<name>.tsv."""
        index = Path(self.index)
        return str(index.parent.parent / "audio" / index.name)


def block_name(key: str, block_size: int, hash_blocks: int) -> str:
    """The block of an item: stable whatever else is added.

    Numbered keys (GTZAN's ``genre.NNNNN``) go by number range, so clips added with new numbers
    form new blocks and leave every existing job alone; other keys go by hash.
    """
    numbered = _NUMBERED.search(key)
    if numbered:
        return f"{int(numbered[1]) // block_size * block_size:05d}"
    digest = int(hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16)
    return f"h{digest % hash_blocks:02d}"


def display_path(relpath: str) -> str:
    """A printable form of a file name that is not valid UTF-8 (undecodable bytes as \\xNN)."""
    return os.fsencode(relpath).decode("utf-8", "backslashreplace")


def slugify(relpath: str) -> str:
    ascii_name = (
        unicodedata.normalize("NFKD", display_path(relpath)).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", ascii_name).strip("._-")
    return slug[:SLUG_MAX].rstrip("._-") or "file"


def safe_id(relpath: str) -> str:
    """Readable and unique: the slug alone can collide ('a b' vs 'a_b'), the hash cannot."""
    digest = hashlib.sha1(os.fsencode(relpath)).hexdigest()[:HASH_CHARS]
    return f"{slugify(relpath)}-{digest}"


def is_declarable(path: str) -> bool:
    """False for paths that Snakemake would misread as wildcard patterns."""
    return _BRACED.search(path) is None


def audio_stamp(path: str | os.PathLike) -> str:
    """Size, mtime and inode change time: a copy with an old mtime (``cp -p``, ``rsync -a``,
    ``tar x``) still changes the last, so a replaced file is noticed without reading it."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def audio_stamps(items: Iterable[Item]) -> pd.DataFrame:
    """key, audio, stamp of each item ("missing" for a file that is gone)."""
    rows = []
    for item in items:
        try:
            stamp = audio_stamp(item.audio)
        except FileNotFoundError:
            stamp = "missing"
        rows.append((item.key, item.audio, stamp))
    return pd.DataFrame(rows, columns=["key", "audio", "stamp"])


def stamps_digest(items: Iterable[Item]) -> str:
    """One short value for a block's rerun trigger (Snakemake stores params per output file)."""
    table = audio_stamps(items)
    return hashlib.sha1(
        "\0".join(table["audio"] + "\0" + table["stamp"]).encode("utf-8", "surrogateescape")
    ).hexdigest()[:16]


def read_index(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """key -> record of a block's table keyed by ``key`` (its index, or predict's probability
    table); empty when the block never ran."""
    try:
        table = read_table(path)
    except FileNotFoundError:
        return {}
    return {row["key"]: row for row in table.to_dict("records")}


def write_index(path: str | os.PathLike, records: Iterable[Mapping[str, object]]) -> None:
    write_table(
        path,
        pd.DataFrame(
            [{f: r.get(f, "") for f in INDEX_FIELDS} for r in records], columns=list(INDEX_FIELDS)
        ),
    )


def plan_blocks(
    items: list[Item],
    block_of: Callable[[str], str],
    index_of: Callable[[str], str],
    known_bad: set[str],
    sniff: Callable[[str], str | None],
    decided: Mapping[str, str] | None = None,
) -> dict[str, Block]:
    """Assign items to blocks and decide which are left out, without opening known audio.

    An item is left out when it is in ``known_bad``, when its block's index recorded it as
    rejected and the file has not changed since, or when ``sniff`` (a cheap check of its first
    bytes) finds it is no audio. Files the index records as featurised and unchanged are not
    read again.
    ``decided`` (key -> reason of every left-out item) replaces all of that where a cluster job
    received the submitting process's decisions.
    """
    blocks: dict[str, Block] = {}
    for item in items:
        name = block_of(item.key)
        block = blocks.get(name)
        if block is None:
            block = blocks[name] = Block(name, index_of(name))
            if decided is None:
                block.recorded = read_index(block.index)
        if decided is not None:
            reason = decided.get(item.key)
        else:
            reason = left_out_reason(item, block.recorded.get(item.key), known_bad, sniff)
        if reason:
            block.left_out.append((item, reason))
        else:
            block.members.append(item)
    return dict(sorted(blocks.items()))


def left_out_reason(
    item: Item, record: dict[str, str] | None, known_bad: set[str], sniff
) -> str | None:
    """Why ``item`` is left out of its block's job (None: it is a member), given its record in
    the block's index."""
    if item.key in known_bad:
        return KNOWN_BAD
    if not os.path.lexists(item.audio):
        return None  # made by a rule of this run (demo, download)
    if record is not None and record["audio_stamp"] == audio_stamp(item.audio):
        return record["reason"] if record["status"] == REJECTED else None
    return sniff(item.audio)


def left_out_of(blocks: Mapping[str, Block]) -> dict[str, str]:
    """key -> reason of every item left out at start-up (what cluster jobs receive)."""
    return {item.key: reason for block in blocks.values() for item, reason in block.left_out}


def unusable_pngs(blocks: Mapping[str, Block]) -> tuple[list[tuple[str, str]], list[str]]:
    """Members' PNGs of blocks whose job ran before that need their job again: (damaged png, why)
    for a file that no longer has the size its job recorded (truncated, overwritten, foreign),
    and the missing ones. A stat each, no read.

    Snakemake reruns a job for a missing output only when a later job or the target asks for
    that very file; these are the files to ask for (blocks that never ran run anyway).
    """
    damaged, missing = [], []
    for block in blocks.values():
        if not block.recorded:
            continue
        for item in block.members:
            try:
                size = os.stat(item.png).st_size
            except FileNotFoundError:
                missing.append(item.png)
                continue
            record = block.recorded.get(item.key)
            if record is not None and record["status"] == OK and str(size) != record["png_bytes"]:
                damaged.append((item.png, f"{size} bytes, its job wrote {record['png_bytes']}"))
    return damaged, missing


@dataclass(frozen=True)
class JobReason:
    """What Snakemake says about one planned featurisation job (see the onstart hook)."""

    rule: str
    outputs: tuple[str, ...]
    code_changed: bool = False
    software_changed: bool = False
    updated_inputs: frozenset[str] = frozenset()


def rebuild_requests(
    jobs: Iterable[JobReason],
    settings_files: set[str],
    forced_rules: set[str],
    forced_files: set[str],
    forceall: bool,
) -> dict[str, str | list[str]]:
    """rule -> ``"all"`` or the PNGs its job must rebuild even when they look current.

    Everything, when the user forced the rule (``-R``, ``--forceall``), when its code or software
    changed, or when the spectrogram settings were made again (``-R spectrograms``); the named
    PNGs when the user forced files (``--forcerun``/``--force`` with a PNG). Jobs that run for
    missing outputs, new or changed audio rebuild only the stale members, which they find
    themselves. Incomplete outputs of a killed run are not forced: finished PNGs are complete.
    """
    requests: dict[str, str | list[str]] = {}
    for job in jobs:
        if (
            forceall
            or job.rule in forced_rules
            or job.code_changed
            or job.software_changed
            or settings_files & job.updated_inputs
        ):
            requests[job.rule] = REBUILD_ALL
        else:
            named = sorted(f for f in job.outputs if os.path.normpath(f) in forced_files)
            if named:
                requests[job.rule] = named
    return requests


def forced_for(rule: str, environ: Mapping[str, str] = os.environ) -> Callable[[str], bool]:
    """Whether a PNG of ``rule``'s job must be rebuilt although it looks current."""
    request = json.loads(environ.get(REBUILD_ENV, "{}")).get(rule)
    if request == REBUILD_ALL:
        return lambda png: True
    named = {os.path.normpath(p) for p in request or []}
    return lambda png: os.path.normpath(png) in named
