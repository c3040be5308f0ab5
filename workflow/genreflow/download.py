"""Fetching and unpacking the dataset archive.

pooch downloads the archive and checks its sha256 (to a temporary file, moved into place only
when the checksum matches). Unpacking stays ours where Python 3.11.7's tarfile ``data`` filter
still falls short (the 2025 filter bypasses, CVE-2025-4517 and others, are fixed only from
3.11.13): every member path must stay inside the folder, links may only point inside it and never
be written through, no device files, and the unpacked size is capped against archive bombs.
"""

from __future__ import annotations

import logging
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .atomic import sha256_of
from .tracks import TRACK_FILE_RE

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
# a broken archive surfaces as any of these, depending on the layer that notices first
_BROKEN = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
)


class DownloadError(RuntimeError):
    """The dataset could not be fetched, verified or unpacked; the message names the URL or file."""


def normalise_sha256(expected: str | None) -> str:
    """The bare lower-case digest of ``sha256:<hex>`` or ``<hex>``; a missing one is an error:
    an unverified archive could bring anything into the training data."""
    text = (expected or "").strip().lower()
    if not text:
        raise DownloadError(
            "no sha256 checksum configured for the dataset archive: set download.sha256"
        )
    match = _SHA256.match(text)
    if not match:
        raise DownloadError(
            f"invalid checksum {expected!r}: expected 'sha256:' followed by 64 hex digits"
        )
    return match[1]


def archive_name(url: str) -> str:
    """The URL's file name, so that logs stay recognisable."""
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    return name if name not in ("", ".", "..") else "archive"


def fetch_archive(url: str, sha256: str | None, dest_file: Path, timeout_s: float = 600) -> Path:
    """``url`` (http, https, ftp; or a local ``file://`` archive) at ``dest_file`` with the
    expected sha256; nothing is left behind on any failure."""
    import pooch
    import requests

    digest, dest_file = normalise_sha256(sha256), Path(dest_file)
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        if urllib.parse.urlsplit(url).scheme == "file":
            source = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
            if sha256_of(source) != digest:
                raise ValueError(f"the sha256 of {source} is not {digest}")
            shutil.copyfile(source, dest_file)
        else:
            downloader = pooch.HTTPDownloader(timeout=timeout_s) if url.startswith("http") else None
            pooch.retrieve(
                url,
                known_hash=f"sha256:{digest}",
                fname=dest_file.name,
                path=dest_file.parent,
                downloader=downloader,
            )
    except ValueError as err:  # pooch: the hash of what arrived differs (the download is deleted)
        raise DownloadError(
            f"cannot download {url}: sha256 checksum mismatch ({str(err).splitlines()[0]})"
        ) from err
    except (OSError, requests.RequestException) as err:
        dest_file.unlink(missing_ok=True)
        raise DownloadError(
            f"cannot download {url}: {str(err).splitlines()[0] or type(err).__name__}"
        ) from err
    log.info("%s: %d bytes, sha256 ok", dest_file, dest_file.stat().st_size)
    return dest_file


def unpack_into(archive: Path, audio_dir: Path, max_bytes: int) -> list[str]:
    """Unpack ``archive`` and move the folders of its genre root into ``audio_dir``, one rename
    each; returns their names. Folders there must be absent or empty (Snakemake makes the
    folders of a rule's outputs before its job): nothing is merged into existing data."""
    audio_dir = Path(audio_dir)
    staging = audio_dir.parent / f".{audio_dir.name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _extract(Path(archive), staging, max_bytes)
        entries = sorted(find_genre_root(staging).iterdir())
        for entry in entries:
            target = audio_dir / entry.name
            if target.is_file() or (target.is_dir() and any(target.iterdir())):
                raise DownloadError(f"refusing to unpack into {target}: it already holds files")
        audio_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            os.replace(entry, audio_dir / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [entry.name for entry in entries]


def _extract(archive: Path, target: Path, max_bytes: int) -> None:
    """By content, not by name: download URLs rarely end in .tar.gz."""
    try:
        with open(archive, "rb") as fh:
            is_zip = fh.read(4) in (
                b"PK\x03\x04",
                b"PK\x05\x06",
            )  # zipfile.is_zipfile also takes a tar holding a zip
        if is_zip:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_relative(info.filename, archive)
                _check_size(sum(i.file_size for i in zf.infolist()), max_bytes, archive)
                zf.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tar:
                tar.errorlevel = 2  # members it would skip are errors
                tar.extractall(target, members=_vetted(tar, archive, max_bytes), filter="data")
                while tar.fileobj.read(1 << 20):  # to the end: gzip and xz check their CRC there
                    pass
        else:
            raise DownloadError(
                f"cannot unpack {archive}: not a tar (.tar, .tar.gz, .tar.bz2, .tar.xz) or zip archive"
            )
    except DownloadError:
        raise
    except _BROKEN as err:
        raise DownloadError(f"cannot unpack {archive}: {err!r}") from err


def _vetted(tar: tarfile.TarFile, archive: Path, max_bytes: int) -> Iterator[tarfile.TarInfo]:
    """Members in archive order, refusing the first one that could write outside the folder."""
    links: set[str] = set()
    files: set[str] = set()
    total = 0
    for member in tar:
        name = _safe_relative(member.name, archive)
        if any(str(p) in links for p in (PurePosixPath(name), *PurePosixPath(name).parents)):
            raise DownloadError(
                f"unsafe member {member.name!r} in {archive}: path goes through a symlink"
            )
        if member.issym():
            target = PurePosixPath(member.linkname)
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            # "a/../.." climbs from wherever the link "a" points: refused like any way out
            climbs_after_descent = (
                ".."
                in target.parts[
                    next(
                        (i for i, p in enumerate(target.parts) if p not in ("..", ".")),
                        len(target.parts),
                    ) :
                ]
            )
            if (
                target.is_absolute()
                or resolved == ".."
                or resolved.startswith("../")
                or climbs_after_descent
            ):
                raise DownloadError(
                    f"unsafe member {member.name!r} in {archive}: symlink to {member.linkname!r} may point outside"
                )
            links.add(name)
        elif member.islnk():
            if posixpath.normpath(member.linkname) not in files:
                raise DownloadError(
                    f"unsafe member {member.name!r} in {archive}: hard link to {member.linkname!r} is not a file inside the archive"
                )
        elif member.isfile():
            files.add(name)
            total += member.size
            _check_size(total, max_bytes, archive)
        elif not member.isdir():
            raise DownloadError(
                f"unsafe member {member.name!r} in {archive}: device, fifo or other special file"
            )
        yield member


def _safe_relative(name: str, archive: Path) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise DownloadError(
            f"unsafe member {name!r} in {archive}: path escapes the extraction folder"
        )
    return posixpath.normpath(str(path))


def _check_size(total: int, max_bytes: int, archive: Path) -> None:
    if total > max_bytes:
        raise DownloadError(
            f"cannot unpack {archive}: it holds more than {max_bytes / 2**30:.1f} GiB (download.max_unpacked_gb)"
        )


def find_genre_root(root: Path) -> Path:
    """The shallowest folder (``root`` included) with a sub-folder holding a GTZAN-named clip:
    ``genres/<genre>/`` of the original archive, ``Data/genres_original/<genre>/`` of Kaggle's."""
    level = [Path(root)]
    while level:
        hits = [
            d
            for d in level
            if any(
                any(TRACK_FILE_RE.match(f.name) for f in sub.iterdir() if f.is_file())
                for sub in _subdirs(d)
            )
        ]
        if len(hits) > 1:
            raise DownloadError(
                f"ambiguous archive layout: genre folders in {', '.join(str(h.relative_to(root)) for h in hits)}"
            )
        if hits:
            return hits[0]
        level = [sub for d in level for sub in _subdirs(d)]
    listing = sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*"))
    shown = ", ".join(listing[:8]) + (
        f", ... ({len(listing) - 8} more)" if len(listing) > 8 else ""
    )
    raise DownloadError(
        f"no genre folders (<genre>/<genre>.NNNNN.au|wav) found in the archive; it holds: {shown or 'nothing'}"
    )


def _subdirs(folder: Path) -> list[Path]:
    """Real sub-folders only: a link loop cannot hang the search."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())


def expected_tracks(audio_dir: str, genres: list[str], settings: dict) -> list:
    """The tracks a GTZAN archive holds (``download.tracks_per_genre`` numbered clips of every
    genre, named ``<genre>.NNNNN.<download.extension>``): known before it is downloaded, so that
    the run that downloads it also featurises and trains."""
    from .demo import demo_track_ids
    from .tracks import Track

    return [
        Track(genre, track, f"{audio_dir}/{genre}/{track}.{settings['extension']}")
        for genre, track in demo_track_ids(genres, settings["tracks_per_genre"])
    ]
