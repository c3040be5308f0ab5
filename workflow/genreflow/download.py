"""Fetch, verify and unpack the GTZAN archive into the audio folder.

The invariant every function here protects: the dataset folder either
appears complete or not at all.  All intermediate files live in hidden
temporary paths next to the destination (same filesystem, so the final
``os.rename`` is atomic) and are removed on every exit path.

Standard library only, so the rule needs no extra dependencies.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

log = logging.getLogger(__name__)

#: A GTZAN clip name such as ``blues.00042.au`` or ``jazz.00054.wav``.
AUDIO_NAME = re.compile(r"^[a-z]+\.\d{5}\.(au|wav)$")

_SUPPORTED_SCHEMES = ("http", "https", "file")
_CHUNK_BYTES = 1 << 20
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_LISTING_LIMIT = 8

# A broken archive surfaces as any of these, depending on which layer
# notices first: truncated gzip -> EOFError, bad bz2 -> OSError, bad xz ->
# LZMAError, bad deflate -> zlib.error, zip CRC -> BadZipFile, encrypted
# zip -> RuntimeError, exotic zip compression -> NotImplementedError (also
# a RuntimeError).
_BROKEN_ARCHIVE_ERRORS = (
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
    """The dataset could not be fetched, verified or unpacked.

    Messages name the URL or file involved and the reason, because they end
    up in the Snakemake log as the only explanation of a failed job.
    """


# --------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------


def download(url: str, dest_file: Path, timeout_s: float) -> None:
    """Stream ``url`` to ``dest_file``, which appears only once complete.

    ``timeout_s`` bounds each network wait (connect, every read), not the
    whole transfer: a stalled server fails fast while a slow but live
    1.2 GB download is allowed to finish.
    """
    _check_scheme(url)
    dest_file = Path(dest_file)
    # Same directory as the target so os.replace is an atomic rename.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest_file.name}.", suffix=".part", dir=dest_file.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, timeout_s)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_scheme(url: str) -> None:
    """Reject schemes urllib would otherwise try (ftp, data) or misparse."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SUPPORTED_SCHEMES:
        raise DownloadError(
            f"cannot download {url!r}: unsupported URL scheme {scheme!r} "
            f"(use one of {', '.join(_SUPPORTED_SCHEMES)})"
        )


def _stream(url: str, out: BinaryIO, timeout_s: float) -> None:
    """Copy the response body into ``out``, translating every transport
    failure into a DownloadError that names the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            expected = _content_length(response)
            received = _copy(response, out)
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open error response
        raise DownloadError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}"
        ) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot download {url}: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"cannot download {url}: {exc!r}") from exc
    # http.client silently returns a short body when the peer hangs up
    # early, so a truncated transfer is only visible by counting bytes.
    if expected is not None and received != expected:
        raise DownloadError(
            f"cannot download {url}: transfer truncated, received "
            f"{received} of {expected} bytes"
        )


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """Announced body size, or None when the server did not say."""
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _copy(source: BinaryIO, out: BinaryIO) -> int:
    """Chunked copy so a 1.2 GB archive never sits in memory."""
    total = 0
    while chunk := source.read(_CHUNK_BYTES):
        out.write(chunk)
        total += len(chunk)
    return total


# --------------------------------------------------------------------------
# Checksum
# --------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """Lower-case hex SHA-256 of the file's contents."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def normalise_sha256(expected: str | None, allow_unverified: bool = False) -> str:
    """Return the bare lower-case hex digest from ``sha256:<hex>`` or ``<hex>``.

    An empty value returns ``""`` only with ``allow_unverified``: silently
    skipping verification would let a swapped or corrupted archive into
    the training data.
    """
    text = (expected or "").strip().lower()
    if not text:
        if allow_unverified:
            return ""
        raise DownloadError(
            "no sha256 checksum configured for the dataset archive; set one "
            "(sha256:<hex>) or explicitly allow an unverified download"
        )
    algorithm, sep, digest = text.partition(":")
    if not sep:
        algorithm, digest = "sha256", text
    if algorithm != "sha256" or not _SHA256_HEX.match(digest):
        raise DownloadError(
            f"invalid checksum {expected!r}: expected 'sha256:' followed by "
            "64 hex digits"
        )
    return digest


def verify_checksum(
    path: Path, expected_sha256: str | None, allow_unverified: bool = False
) -> None:
    """Raise DownloadError unless ``path`` has the expected SHA-256."""
    expected = normalise_sha256(expected_sha256, allow_unverified)
    if not expected:
        log.warning("checksum verification skipped for %s (allow_unverified)", path)
        return
    actual = sha256_of(path)
    if actual != expected:
        raise DownloadError(
            f"sha256 checksum mismatch for {path}: expected {expected}, "
            f"got {actual}"
        )
    log.info("sha256 checksum ok for %s", path)


# --------------------------------------------------------------------------
# Unpack
# --------------------------------------------------------------------------


def unpack_archive(archive: Path, dest_dir: Path) -> None:
    """Extract ``archive`` and move its genre-folder root to ``dest_dir``.

    Extraction happens in a hidden sibling of ``dest_dir`` and the result
    is moved with one ``os.rename``, so ``dest_dir`` is never seen half
    populated. An existing ``dest_dir`` is an error: it may be user data.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    _refuse_existing(dest_dir)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(
            prefix=f".{dest_dir.name}.", suffix=".unpack", dir=dest_dir.parent
        )
    )
    try:
        # mkdtemp makes a 0700 folder; extracting into a normal sub-folder
        # keeps the dataset's permissions under the user's umask.
        content = staging / "content"
        content.mkdir()
        _extract(archive, content)
        root = find_genre_root(content)
        _refuse_existing(dest_dir)
        os.rename(root, dest_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("unpacked %s into %s", archive, dest_dir)


def _refuse_existing(dest_dir: Path) -> None:
    """Never overwrite or merge into a folder we did not create."""
    if os.path.lexists(dest_dir):
        raise DownloadError(f"refusing to unpack into {dest_dir}: it already exists")


def _extract(archive: Path, target: Path) -> None:
    """Dispatch on content, not suffix: download URLs rarely end in .tar.gz."""
    try:
        if _is_zip(archive):
            _extract_zip(archive, target)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, target)
        else:
            raise DownloadError(
                f"cannot unpack {archive}: not a readable tar (.tar, .tar.gz, "
                ".tar.bz2, .tar.xz) or zip archive"
            )
    except DownloadError:
        raise
    except _BROKEN_ARCHIVE_ERRORS as exc:
        raise DownloadError(f"cannot unpack {archive}: {exc!r}") from exc


def _is_zip(archive: Path) -> bool:
    """Check the leading magic; zipfile.is_zipfile also accepts files that
    merely contain a zip somewhere (e.g. a tar with a .zip inside)."""
    with open(archive, "rb") as handle:
        return handle.read(4) in _ZIP_MAGIC


def _extract_tar(archive: Path, target: Path) -> None:
    """Single streaming pass: each member is vetted just before extraction."""
    # The PEP 706 "data" filter adds a filesystem-level check where this
    # Python has it; our own checks come first for clearer messages.
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(archive, "r:*") as tar:
        tar.errorlevel = 2  # turn silently skipped members into errors
        tar.extractall(target, members=_vetted_tar_members(tar, archive), **extra)
        _drain(tar)


def _drain(tar: tarfile.TarFile) -> None:
    """Read the compressed stream to its end so gzip/xz check their CRC.

    Extraction stops at the tar end-of-archive marker, before the
    compressor's trailer, so a corrupted (but unverified) .tar.gz would
    otherwise unpack silently with damaged clips.
    """
    while tar.fileobj.read(_CHUNK_BYTES):
        pass


def _vetted_tar_members(
    tar: tarfile.TarFile, archive: Path
) -> Iterator[tarfile.TarInfo]:
    """Yield members, raising on the first one that could escape ``target``."""
    symlinks: set[str] = set()
    files: set[str] = set()
    for member in tar:
        name = _safe_relative(member.name, archive)
        _refuse_through_symlink(name, symlinks, archive)
        if member.issym():
            _check_symlink_target(name, member.linkname, archive)
            symlinks.add(name)
            files.discard(name)
        elif member.islnk():
            _check_hardlink_target(name, member.linkname, files, archive)
        elif member.isfile():
            files.add(name)
        elif not member.isdir():
            raise DownloadError(
                f"unsafe member {member.name!r} in {archive}: device, fifo or "
                "other special file"
            )
        yield member


def _safe_relative(name: str, archive: Path) -> str:
    """Normalised member path, refusing absolute paths and ``..``."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise DownloadError(
            f"unsafe member {name!r} in {archive}: path escapes the extraction folder"
        )
    return posixpath.normpath(str(path))


def _refuse_through_symlink(name: str, symlinks: set[str], archive: Path) -> None:
    """Writing through (or over) an archive-made symlink could land
    anywhere, even if every path looks harmless on its own."""
    path = PurePosixPath(name)
    if any(str(p) in symlinks for p in (path, *path.parents)):
        raise DownloadError(
            f"unsafe member {name!r} in {archive}: path goes through a symlink"
        )


def _check_symlink_target(name: str, target: str, archive: Path) -> None:
    """Allow only relative links that stay inside the tree.

    The lexical check alone is not enough: in ``a/../..`` the ``a`` may
    itself be a link, so ``..`` after a descent climbs from wherever ``a``
    points. Such targets are refused too; leading ``..`` are safe because
    member folders are real folders at their lexical depth.
    """
    target_path = PurePosixPath(target)
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    escapes = (
        target_path.is_absolute() or resolved == ".." or resolved.startswith("../")
    )
    if escapes or _climbs_after_descent(target_path.parts):
        raise DownloadError(
            f"unsafe member {name!r} in {archive}: symlink to {target!r} may "
            "point outside the extraction folder"
        )


def _climbs_after_descent(parts: tuple[str, ...]) -> bool:
    """True for targets like ``x/../..`` whose real meaning depends on
    what ``x`` is."""
    descended = False
    for part in parts:
        if part == "..":
            if descended:
                return True
        elif part != ".":
            descended = True
    return False


def _check_hardlink_target(
    name: str, target: str, files: set[str], archive: Path
) -> None:
    """A hard link may only alias a regular file already extracted from
    this archive; anything else could alias a file outside the dataset."""
    resolved = posixpath.normpath(target.replace("\\", "/"))
    if resolved not in files:
        raise DownloadError(
            f"unsafe member {name!r} in {archive}: hard link to {target!r} is "
            "not a regular file inside the archive"
        )


def _extract_zip(archive: Path, target: Path) -> None:
    """Vet all names first: zipfile would silently rewrite unsafe ones,
    which hides a malicious or broken archive instead of reporting it."""
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            _safe_relative(name, archive)
        zf.extractall(target)


def find_genre_root(root: Path) -> Path:
    """Shallowest folder under ``root`` (itself included) that has at least
    one sub-folder holding a GTZAN-named clip.

    Handles ``genres/<genre>/`` (original tarball) and
    ``Data/genres_original/<genre>/`` (Kaggle zip) alike.
    """
    level = [Path(root)]
    while level:
        hits = [d for d in level if _holds_genre_folders(d)]
        if len(hits) > 1:
            names = ", ".join(str(h.relative_to(root)) for h in hits)
            raise DownloadError(f"ambiguous archive layout: genre folders in {names}")
        if hits:
            return hits[0]
        level = [sub for d in level for sub in _subdirs(d)]
    raise DownloadError(
        "no genre folders (<genre>/<genre>.NNNNN.au|wav) found in archive; it "
        f"contained: {_brief_listing(root)}"
    )


def _subdirs(folder: Path) -> list[Path]:
    """Real sub-folders, sorted for deterministic results; symlinked
    folders are skipped so a link loop cannot hang the search."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))


def _holds_genre_folders(folder: Path) -> bool:
    return any(_holds_clips(sub) for sub in _subdirs(folder))


def _holds_clips(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(
            e.is_file(follow_symlinks=False) and AUDIO_NAME.match(e.name)
            for e in entries
        )


def _brief_listing(root: Path) -> str:
    """A few paths from the extracted tree, enough to see what went wrong."""
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    if not paths:
        return "nothing (empty archive)"
    shown = ", ".join(paths[:_LISTING_LIMIT])
    extra = len(paths) - _LISTING_LIMIT
    return shown + (f", ... ({extra} more)" if extra > 0 else "")


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------


def fetch_dataset(
    url: str,
    sha256: str | None,
    dest_dir: Path,
    timeout_s: float = 600,
    allow_unverified: bool = False,
) -> Path:
    """Make sure the dataset exists at ``dest_dir``; return ``dest_dir``.

    An existing ``dest_dir`` is left untouched and nothing is downloaded.
    Otherwise download, verify and unpack; on any failure ``dest_dir`` stays
    absent and no temporary file is left behind.
    """
    dest_dir = Path(dest_dir)
    if os.path.lexists(dest_dir):
        log.info("%s already exists; nothing to download", dest_dir)
        return dest_dir
    # Validate before downloading: a bad checksum setting should not cost
    # a 1.2 GB transfer to discover.
    _with_url(url, normalise_sha256, sha256, allow_unverified)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    # The archive lives next to, never inside, the dataset folder.
    workdir = Path(
        tempfile.mkdtemp(
            prefix=f".{dest_dir.name}.", suffix=".download", dir=dest_dir.parent
        )
    )
    try:
        archive = workdir / _archive_name(url)
        log.info("downloading %s", url)
        download(url, archive, timeout_s)
        log.info("downloaded %d bytes", archive.stat().st_size)
        _with_url(url, verify_checksum, archive, sha256, allow_unverified)
        _with_url(url, unpack_archive, archive, dest_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return dest_dir


def fetch_archive(url: str, sha256: str | None, dest_file: Path, timeout_s: float = 600, allow_unverified: bool = False) -> Path:
    """Download ``url`` to ``dest_file`` and check its sha256; ``dest_file`` appears only when
    both succeeded."""
    dest_file = Path(dest_file)
    _with_url(url, normalise_sha256, sha256, allow_unverified)
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    part = dest_file.with_name(f".{dest_file.name}.unverified")
    try:
        log.info("downloading %s", url)
        download(url, part, timeout_s)
        log.info("downloaded %d bytes", part.stat().st_size)
        _with_url(url, verify_checksum, part, sha256, allow_unverified)
        os.replace(part, dest_file)
    finally:
        part.unlink(missing_ok=True)
    return dest_file


def unpack_into(archive: Path, audio_dir: Path) -> list[str]:
    """Unpack ``archive`` and move the folders of its genre root into ``audio_dir``, each with
    one rename; returns what was moved. Folders there must be absent or empty (Snakemake makes
    the folders of a rule's outputs before the job): nothing is merged into existing data."""
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    staging = audio_dir.parent / f".{audio_dir.name}.unpacked"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        unpack_archive(archive, staging)
        entries = sorted(staging.iterdir())
        for entry in entries:
            target = audio_dir / entry.name
            if target.is_dir() and any(target.iterdir()) or target.is_file():
                raise DownloadError(f"refusing to unpack into {target}: it already holds files")
        for entry in entries:
            os.replace(entry, audio_dir / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [entry.name for entry in entries]


def expected_tracks(audio_dir: str, genres: list[str], settings: dict) -> list:
    """The tracks a GTZAN archive holds (``download.tracks_per_genre`` numbered clips of every
    genre, named ``<genre>.NNNNN.<download.extension>``): known before it is downloaded, so that
    the run that downloads it also featurises and trains."""
    from .tracks import Track

    return [
        Track(genre, f"{genre}.{number:05d}", f"{audio_dir}/{genre}/{genre}.{number:05d}.{settings['extension']}")
        for genre in genres
        for number in range(settings["tracks_per_genre"])
    ]


def archive_name(url: str) -> str:
    return _archive_name(url)


def _archive_name(url: str) -> str:
    """Keep the URL's file name so log messages stay recognisable."""
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    return name if name and name not in (".", "..") else "archive"


def _with_url(url: str, step: Callable[..., object], *args: object) -> None:
    """Prefix errors with the URL: the temporary archive path in the
    original message means nothing once it has been cleaned up."""
    try:
        step(*args)
    except DownloadError as exc:
        raise DownloadError(f"{url}: {exc}") from exc
