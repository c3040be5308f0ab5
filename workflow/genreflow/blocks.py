"""Featurisation blocks: which audio files share a job, and the tables the jobs write.

A block groups files by a key that never changes when files are added: the track number range
for GTZAN names (``blues.00042`` and ``jazz.00042`` share block ``00000`` with block size 50), a
hash of the key otherwise. Each block has two jobs (see workflow/rules/spectrograms.smk): one
whose inputs are the block's audio files and whose output is their stamps table, and one that
featurises every member and writes its PNGs and the block's table (``ok`` or ``rejected``).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pandas as pd

from .tables import read_table

OK, REJECTED = "ok", "rejected"
_NUMBERED = re.compile(r"\.(\d+)$")
# Snakemake reads "{name}" in a path as a wildcard, with no way to escape it; such paths cannot
# be declared as rule inputs (broader than Snakemake's own pattern, on purpose).
_BRACED = re.compile(r"\{[^{}]*\}")
SLUG_MAX, HASH_CHARS = 48, 10


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
    root: str  # the spectrogram set's folder: <root>/index/<name>.tsv is the block's table
    members: list[Item] = field(default_factory=list)

    @property
    def table(self) -> str:
        return f"{self.root}/index/{self.name}.tsv"

    @property
    def pngs(self) -> list[str]:
        return [m.png for m in self.members]

    def moved(self, root: str) -> Block:
        """The same block in another spectrogram set (an experiment variant's settings)."""
        moved = [replace(m, png=png_path(root, m.label, m.key)) for m in self.members]
        return Block(self.name, root, moved)


def png_path(root: str, label: str, key: str) -> str:
    return f"{root}/{label}/{key}.png" if label else f"{root}/{key}.png"


def set_index_path(root: str) -> str:
    """Every block table of a spectrogram set in one: what the split, QC and folds read."""
    return f"{root}/index.tsv"


def stamps_path(root: str, block: str) -> str:
    """The members' audio files and their stamps: what the block's featurisation job reads."""
    return f"{root}/audio/{block}.tsv"


def block_name(key: str, block_size: int, hash_blocks: int) -> str:
    """Numbered keys (GTZAN's ``genre.NNNNN``) go by number range, so clips added with new
    numbers form new blocks and leave every existing job alone; other keys go by hash."""
    numbered = _NUMBERED.search(key)
    if numbered:
        return f"{int(numbered[1]) // block_size * block_size:05d}"
    digest = int(hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16)
    return f"h{digest % hash_blocks:02d}"


def make_blocks(items: Iterable[Item], root: str, block_of) -> dict[str, Block]:
    blocks: dict[str, Block] = {}
    for item in items:
        name = block_of(item.key)
        blocks.setdefault(name, Block(name, root)).members.append(item)
    return dict(sorted(blocks.items()))


def display_path(relpath: str) -> str:
    """A printable form of a file name that is not valid UTF-8 (undecodable bytes as \\xNN)."""
    return os.fsencode(relpath).decode("utf-8", "backslashreplace")


def safe_id(relpath: str) -> str:
    """Readable and unique: the slug alone can collide ('a b' vs 'a_b'), the hash cannot."""
    ascii_name = (
        unicodedata.normalize("NFKD", display_path(relpath)).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", ascii_name).strip("._-")
    slug = slug[:SLUG_MAX].rstrip("._-") or "file"
    return f"{slug}-{hashlib.sha1(os.fsencode(relpath)).hexdigest()[:HASH_CHARS]}"


def is_declarable(path: str) -> bool:
    """False for paths that Snakemake would misread as wildcard patterns."""
    return _BRACED.search(path) is None


def audio_stamp(path: str | os.PathLike) -> str:
    """Size, mtime and inode change time: a copy with an old mtime (``cp -p``, ``rsync -a``,
    ``tar x``) still changes the last, so a replaced file is noticed without reading it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def audio_stamps(items: Iterable[Item]) -> pd.DataFrame:
    """The stamps table: key, label, name, audio and stamp of each member, in block order."""
    rows = [(i.key, i.label, i.name, i.audio, audio_stamp(i.audio)) for i in items]
    return pd.DataFrame(rows, columns=["key", "label", "name", "audio", "stamp"])


def stamps_digest(items: Iterable[Item]) -> str:
    """One short value for a block's params trigger (Snakemake stores params per output file,
    so one value per block, not one per member)."""
    text = "\0".join(f"{i.audio}\0{audio_stamp(i.audio)}" for i in items)
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def read_records(*tables: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of block tables (or of the index of a whole set), one dict each."""
    return [row for t in tables for row in read_table(t).to_dict("records")]
