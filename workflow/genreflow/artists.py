"""Which tracks belong together: their artists, read from artist tables and sample sheets, and
exact duplicates (the same decoded audio under two names).

A genre classifier scored on tracks whose artists it was trained on measures, in part, artist
recognition (Sturm 2013; Flexer 2007 calls the cure the "artist filter"). The split and the
folds keep every group this module finds on one side.

Grouping rule, in one sentence: two tracks are in one group when their artist credits share a
normalised name (``credited_names``), directly or through other tracks, or when their decoded
audio is identical. A track without an artist is a group of its own (it is split by track).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .blocks import safe_id

# What separates the artists of one credit: "A & B", "A, B and C", "A feat. B", "A; B" (the
# separator the shipped GTZAN table uses where two sources credit different artists).
_SEPARATORS = re.compile(
    r"\s*(?:[;&+/,]|\band\b|\bfeat\b\.?|\bfeaturing\b|\bft\b\.?|\bwith\b|\bvs\b\.?)\s*"
)
# "Branford Marsalis Trio" is Branford Marsalis; "The Band" stays "band" (nothing would be left).
_ENSEMBLE = re.compile(r" (?:trio|quartet|quintet|sextet|septet|octet|big band|band)$")
_BANG_I = re.compile(r"(?<=\w)!(?=\w)")  # P!nk
_DROPPED = re.compile(r"[.'’!]")
_NON_WORD = re.compile(r"[^\w]+")
_THE = re.compile(r"^the ")
# Placeholders that would tie unrelated tracks together.
NOT_A_NAME = frozenset({"various artists", "various", "unknown", "unknown artist", "va", "n a"})


@lru_cache(maxsize=65536)
def credited_names(credit: str) -> frozenset[str]:
    """The artist names of a credit, normalised so that spellings of one artist meet.

    - accents and case are folded (``Motörhead`` = ``Motorhead``, ``Céline`` = ``celine``);
    - ``.``, ``'`` and ``!`` are dropped (``G.Q.`` = ``GQ``, ``Dr. Dre`` = ``Dr Dre``; a ``!``
      inside a word is an ``i``: ``P!nk`` = ``Pink``), any other punctuation is a space;
    - the credit is cut at ``;`` ``&`` ``+`` ``/`` ``,`` and the words ``and``, ``feat.``,
      ``featuring``, ``ft.``, ``with``, ``vs.``: ``Leonard Bernstein & Israel Philharmonic
      Orchestra`` names ``leonard bernstein`` and ``israel philharmonic orchestra``;
    - a leading ``the`` and a trailing ``trio``, ``quartet``, ... ``big band``, ``band`` go:
      ``Branford Marsalis Trio`` = ``Branford Marsalis``, ``The Gibson Brothers`` = ``Gibson
      Brothers``;
    - placeholders (``Various Artists``, ``Unknown``) and empty parts are no name.

    Cutting band names at ``&`` or ``and`` (``Earth, Wind & Fire``) gives parts that still meet
    across spellings; the cost is that a part may tie two artists together, which keeps more
    tracks together than needed, never fewer.
    """
    text = str(credit)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = _DROPPED.sub("", _BANG_I.sub("i", text.casefold()))
    names = set()
    for part in _SEPARATORS.split(text):
        name = _THE.sub("", _NON_WORD.sub(" ", part).strip())
        name = _ENSEMBLE.sub("", name) or name
        if name and name not in NOT_A_NAME:
            names.add(name)
    return frozenset(names)


def connected(links: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """item -> component number, where items sharing any link value are connected (also through
    other items).

    A union-find over the link values, not scipy's ``connected_components``: this runs when the
    Snakefile is parsed (the start-up split check), and importing scipy.sparse.csgraph there took
    0.5-0.7 s on the 2-core development machine, a third of what grouping 100 000 tracks of
    distinct credits takes in all (1.6 s, measured under load)."""
    parent: dict[str, str] = {}

    def root(value: str) -> str:
        while parent[value] != value:
            parent[value] = parent[parent[value]]
            value = parent[value]
        return value

    first: dict[str, str] = {}
    for item, values in links.items():
        for value in values:
            parent.setdefault(value, value)
            if item in first:
                parent[root(value)] = root(first[item])
            else:
                first[item] = value
    numbers: dict[str, int] = {}
    return {
        item: numbers.setdefault(root(first[item]), len(numbers)) if item in first else -1 - i
        for i, item in enumerate(links)
    }


def artist_groups(credits: Mapping[str, str]) -> dict[str, str]:
    """track -> its artist group, for the tracks whose credit names an artist.

    Tracks whose credits share a normalised name are one group, also through other tracks
    (``A & B`` joins the groups of ``A`` and of ``B``). A group is labelled by the name most of
    its tracks credit (ties: the alphabetically first), so adding tracks of known or new artists
    leaves the labels, and with them the ``hash`` split, as they are; only a credit that joins
    two groups, or changes which name most tracks credit, relabels a group.
    """
    names = {track: credited_names(credit) for track, credit in credits.items()}
    names = {track: found for track, found in names.items() if found}
    component = connected(names)
    counts: dict[int, Counter] = defaultdict(Counter)
    for track, found in names.items():
        counts[component[track]].update(found)
    label = {
        number: min(count.items(), key=lambda item: (-item[1], item[0]))[0]
        for number, count in counts.items()
    }
    return {track: label[component[track]] for track in names}


def merge_groups(labels: Mapping[str, str], duplicates: Iterable[Iterable[str]]) -> dict[str, str]:
    """``labels`` (track -> group) with the groups of each set of duplicates merged into one,
    labelled by the alphabetically first label it joins."""
    duplicates = [list(tracks) for tracks in duplicates]
    if not duplicates:
        return dict(labels)
    links: dict[str, set[str]] = {track: {label} for track, label in labels.items()}
    for number, tracks in enumerate(duplicates):
        for track in tracks:
            if track in links:
                links[track].add(f"\0duplicates {number}")
    component = connected(links)
    label: dict[int, str] = {}
    for track, group in labels.items():
        label[component[track]] = min(label.get(component[track], group), group)
    return {track: label[component[track]] for track in labels}


def duplicate_sets(records: Iterable[Mapping[str, str]]) -> list[list[str]]:
    """Sets (of two or more track keys) with equal ``audio_sha256`` (the sha256 of the decoded
    samples, in the featurisation jobs' tables and the set index), sorted; a record without one
    (a start-up plan on names) is in no set."""
    table = pd.DataFrame(
        [(r["key"], r.get("audio_sha256", "")) for r in records], columns=["key", "audio"]
    )
    table = table[table["audio"] != ""]
    sets = [sorted(keys) for keys in table.groupby("audio")["key"].agg(list) if len(keys) > 1]
    return sorted(sets)


def duplicate_table(records: Iterable[Mapping[str, str]]) -> pd.DataFrame:
    """The QC table of exact duplicates: one row per track of every set, numbered from 1."""
    by_key = {r["key"]: r for r in records}
    rows = [
        (
            number,
            key,
            by_key[key].get("label", ""),
            by_key[key].get("audio", ""),
            by_key[key]["audio_sha256"],
        )
        for number, keys in enumerate(duplicate_sets(by_key.values()), start=1)
        for key in keys
    ]
    return pd.DataFrame(rows, columns=["set", "track", "genre", "audio", "audio_sha256"])


class ArtistTableError(ValueError):
    """An artist table that cannot be used (a configuration error: the message names the key
    and the file; not a ``config.ConfigError`` so that the rule scripts need no YAML parser)."""


def read_artist_table(path: str | os.PathLike) -> dict[str, str]:
    """track -> artist of one table: a TSV with a header holding ``track`` and ``artist``
    (other columns are for people); leading lines starting with ``#`` say where it comes from.
    An empty artist means "no artist known": the track is split by track."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ArtistTableError(
            f"split.artists: cannot read the artist table '{path}' ({err})"
        ) from err
    comments = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    try:
        table = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, skiprows=comments, quoting=3
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise ArtistTableError(
            f"split.artists: cannot read the artist table '{path}' ({err})"
        ) from err
    missing = {"track", "artist"} - set(table.columns)
    if missing:
        raise ArtistTableError(
            f"split.artists: the artist table '{path}' has no column {sorted(missing)} (it needs track and artist)"
        )
    repeated = sorted(set(table["track"][table["track"].duplicated()]))
    if repeated:
        raise ArtistTableError(
            f"split.artists: the artist table '{path}' lists {len(repeated)} track(s) twice: {', '.join(repeated[:5])}"
        )
    return dict(zip(table["track"].str.strip(), table["artist"].str.strip()))


def read_artist_tables(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """track -> artist over several tables: a later table's row replaces an earlier one's, so a
    small table of corrections after the shipped one corrects it."""
    merged: dict[str, str] = {}
    for path in paths:
        merged.update(read_artist_table(path))
    return merged


def resolve_tables(paths: Iterable[str], workflow_root: str | os.PathLike) -> list[str]:
    """Relative paths are looked up in the working directory, then in the workflow's folder (the
    shipped ``config/artists/gtzan.tsv`` works from any working directory)."""
    resolved = []
    for path in paths:
        candidate = Path(path)
        if not (candidate.is_absolute() or candidate.exists()):
            candidate = Path(workflow_root) / candidate
        resolved.append(str(candidate))
    return resolved


def sheet_artists(sheet: pd.DataFrame) -> dict[str, str]:
    """track key -> artist from a sample sheet's optional ``artist`` column (keys as the sheet's
    tracks get them: the safe id of the path as written); empty cells are left out."""
    if "artist" not in sheet.columns:
        return {}
    return {
        safe_id(path): artist.strip()
        for path, artist in zip(sheet["path"], sheet["artist"])
        if artist.strip()
    }


def track_credits(
    tracks: Iterable[tuple[str, str]], tables: Mapping[str, str], sheet: Mapping[str, str]
) -> dict[str, str]:
    """key -> artist credit for (key, name) pairs, where one is known: the sample sheet's
    ``artist`` column first, then the tables by track id (GTZAN names such as ``blues.00042``),
    by the file name, or by the file name without its extension (a sheet row
    ``music/blues.00042.wav``). Tracks no source names are left out."""
    credits = {}
    for key, name in tracks:
        if sheet.get(key):
            credits[key] = sheet[key]
            continue
        if key in tables:
            found = key
        elif name == key:  # a GTZAN-layout track: its id is all there is to look up
            continue
        else:
            base = os.path.basename(name)
            found = next((c for c in (base, os.path.splitext(base)[0]) if c in tables), None)
        if found is not None and tables[found]:
            credits[key] = tables[found]
    return credits


@dataclass
class ArtistSources:
    """Where the workflow learns who made each track, decided at start-up."""

    tables: list[str]  # artist tables, resolved: inputs of the split and folds jobs
    sheet: dict[str, str]  # track key -> artist, from the sample sheet's artist column

    def credits(self, tracks: Iterable[tuple[str, str]]) -> dict[str, str]:
        """key -> artist of (key, name) pairs, where a source names one."""
        return track_credits(tracks, read_artist_tables(self.tables), self.sheet)


def artist_sources(
    split_config: Mapping, sheet: str, workflow_root: str | os.PathLike, synthetic: bool = False
) -> ArtistSources:
    """The artist tables of ``split.artists`` and the sheet's artist column, or nothing with
    ``split.group_by: none`` or for ``synthetic`` audio (the demo data borrows GTZAN's track
    names, not its artists); a table that does not exist stops the start-up, naming it."""
    if split_config.get("group_by", "artist") == "none" or synthetic:
        return ArtistSources([], {})
    listed = split_config.get("artists") or []
    listed = [listed] if isinstance(listed, str) else listed
    tables = resolve_tables([t for t in listed if t], workflow_root)
    missing = [t for t in tables if not os.path.isfile(t)]
    if missing:
        raise ArtistTableError(f"split.artists: no such table {missing}")
    from .tables import read_table

    return ArtistSources(tables, sheet_artists(read_table(sheet)) if sheet else {})
