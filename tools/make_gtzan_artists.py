"""Builds config/artists/gtzan.tsv, the artist of each GTZAN track, from a local copy of the
seungheondoh/gtzan-bind repository (https://github.com/seungheondoh/gtzan-bind).

    git clone https://github.com/seungheondoh/gtzan-bind /tmp/gtzan-bind
    .venv/bin/python tools/make_gtzan_artists.py /tmp/gtzan-bind > config/artists/gtzan.tsv

The path may be a work tree or a bare git directory (read at HEAD). Two sources of that
repository are read:

- ``dataset/metadata/doh2023fingerprint/results/<track>.json``: audio-fingerprint matches
  (Doh 2023), field ``track.subtitle`` (the artist) and ``track.title``; 974 of the 1000 tracks;
- ``dataset/metadata/sturm2013faults/GTZANindex.txt``: Sturm's (2012) hand-made index,
  ``<track>.wav ::: artist ::: title`` (B. L. Sturm, "An Analysis of the GTZAN Music Genre
  Dataset", ACM MIRUM 2012), used to check the matches.

A fingerprint match can be another recording (a remix, a sample, a wrong hit: ``country.00002``
matches Skream's "Settled"). Each track's ``artist`` is decided so (``source`` and ``note`` say
which case applied):

1. no fingerprint result: Sturm's artist (``sturm2012``), or none (``none``);
2. Sturm names the same artist (a shared name after ``genreflow.artists.credited_names``), or
   names none and no other title: the fingerprint's artist (``fingerprint``);
3. the titles differ (fewer than half of the shorter title's words in the other): the match is
   another recording; Sturm's artist (``sturm2012``) or none (``none``) replaces it;
4. same title, other artist (a cover, a featured soloist, a composer against a performer):
   both, ``<fingerprint>; <Sturm>`` (``fingerprint+sturm2012``): grouping by either keeps the
   track with both artists' other tracks.

``artist_group`` is the group the workflow forms from these credits
(``genreflow.artists.artist_groups``); the workflow recomputes it from ``artist`` at every run
(a user's corrections may change it), the column is here for people.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from genreflow.artists import artist_groups, credited_names
from genreflow.demo import GTZAN_GENRES

FINGERPRINTS = "dataset/metadata/doh2023fingerprint/results"
STURM_INDEX = "dataset/metadata/sturm2013faults/GTZANindex.txt"
FILLER_WORDS = {"the", "a", "an", "of", "in", "no", "op", "and", "for", "to", "on"}


class Checkout:
    """Files of the repository at HEAD, from a work tree or a bare git directory."""

    def __init__(self, path: Path):
        self.path = path
        self.tree = (path / "dataset").is_dir()
        flag = "-C" if self.tree else "--git-dir"
        self.git = ["git", flag, str(path)]
        self.commit = self.run("rev-parse", "HEAD").strip()

    def run(self, *args: str) -> str:
        return subprocess.run([*self.git, *args], check=True, capture_output=True, text=True).stdout

    def names(self, folder: str) -> list[str]:
        return self.run("ls-tree", "--name-only", "HEAD", f"{folder}/").split()

    def read(self, path: str) -> str:
        return self.run("show", f"HEAD:{path}")


def fingerprint_matches(repo: Checkout) -> dict[str, tuple[str, str]]:
    """track -> (artist, title) of the fingerprint results that found a track."""
    found = {}
    for path in repo.names(FINGERPRINTS):
        track = (json.loads(repo.read(path)).get("track")) or {}
        if track.get("subtitle"):
            found[Path(path).stem] = (track["subtitle"].strip(), track.get("title", "").strip())
    return found


def sturm_index(repo: Checkout) -> dict[str, tuple[str, str]]:
    """track -> (artist, title) of Sturm's index ('' where he left it empty)."""
    index = {}
    for line in repo.read(STURM_INDEX).splitlines():
        if line.startswith("#") or ":::" not in line:
            continue
        parts = [p.strip() for p in line.split(":::")] + ["", ""]
        index[parts[0].removesuffix(".wav")] = (parts[1], parts[2])
    return index


def title_words(title: str) -> set[str]:
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[\(\[].*?[\)\]]", " ", text)  # (Live), [Remix], (feat. ...)
    return set(re.findall(r"[a-z0-9]+", text.replace("'", ""))) - FILLER_WORDS


def same_title(a: str, b: str) -> bool:
    """At least half of the shorter title's words in the other (punctuation, accents, case,
    brackets and filler words aside): "Symphony 6, mvt. 1" is "Symphony No. 6 in B Minor, Op. 74
    'Pathétique': I. Adagio"; "I Wish I Had A Nickel" is not "Settled (Billy Turner Remix)"."""
    words_a, words_b = title_words(a), title_words(b)
    shorter = min(len(words_a), len(words_b))
    return shorter == 0 or len(words_a & words_b) >= shorter / 2


def decide(fingerprint: tuple[str, str] | None, sturm: tuple[str, str]) -> tuple[str, str, str]:
    """(artist, source, note) of one track, by the rules in this file's docstring."""
    sturm_artist, sturm_title = sturm
    if fingerprint is None:
        if sturm_artist:
            return sturm_artist, "sturm2012", "no fingerprint result"
        return "", "none", "no fingerprint result; no artist in Sturm (2012)"
    artist, title = fingerprint
    shown = f"'{artist} - {title}'"
    if sturm_artist and credited_names(artist) & credited_names(sturm_artist):
        return artist, "fingerprint", ""
    if sturm_title and not same_title(title, sturm_title):
        if sturm_artist:
            return (
                sturm_artist,
                "sturm2012",
                f"fingerprint matched another recording ({shown}; Sturm 2012: "
                f"'{sturm_artist} - {sturm_title}')",
            )
        return (
            "",
            "none",
            f"fingerprint matched another recording ({shown}; Sturm 2012: "
            f"'{sturm_title}', no artist)",
        )
    if not sturm_artist:
        return artist, "fingerprint", ""
    return (
        f"{artist}; {sturm_artist}",
        "fingerprint+sturm2012",
        f"Sturm 2012 credits '{sturm_artist}'"
        + (f" for '{sturm_title}'" if sturm_title else " (no title to compare)"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="gtzan-bind work tree or bare git directory")
    args = parser.parse_args()
    repo = Checkout(args.checkout)
    matches, index = fingerprint_matches(repo), sturm_index(repo)
    tracks = [f"{g}.{i:05d}" for g in GTZAN_GENRES for i in range(100)]
    rows = {t: decide(matches.get(t), index.get(t, ("", ""))) for t in tracks}
    groups = artist_groups({t: artist for t, (artist, _, _) in rows.items()})
    counts = {
        s: sum(r[1] == s for r in rows.values())
        for s in ("fingerprint", "fingerprint+sturm2012", "sturm2012", "none")
    }
    header = [
        "# GTZAN track -> artist, made by tools/make_gtzan_artists.py (read it for the rules).",
        f"# Source: https://github.com/seungheondoh/gtzan-bind at commit {repo.commit}:",
        f"#   {FINGERPRINTS}/<track>.json (track.subtitle; audio-fingerprint matches, Doh 2023)",
        f"#   checked against {STURM_INDEX} (Sturm, 'An Analysis of the GTZAN Music Genre Dataset', MIRUM 2012).",
        "# The repository states no licence for these files; artist names are facts, cite both sources.",
        f"# Rows by source: {', '.join(f'{k} {v}' for k, v in counts.items())}. Empty artist: none known (split by track).",
    ]
    print("\n".join(header))
    print("track\tartist\tartist_group\tsource\tnote")
    for track in tracks:
        artist, source, note = rows[track]
        cells = [track, artist, groups.get(track, ""), source, note]
        print("\t".join(c.replace("\t", " ") for c in cells))


if __name__ == "__main__":
    main()
