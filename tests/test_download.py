"""Dataset download (issue 7) against a local HTTP server on 127.0.0.1.

Archives are built here from tiny synthetic noise clips; no real audio and
no outside host is ever touched.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WORKFLOW_DIR = Path(__file__).resolve().parent.parent / "workflow"
if str(WORKFLOW_DIR) not in sys.path:  # until tests/conftest.py provides it
    sys.path.insert(0, str(WORKFLOW_DIR))

from genreflow.atomic import sha256_of  # noqa: E402
from genreflow.download import (  # noqa: E402
    DownloadError,
    fetch_archive,
    find_genre_root,
    normalise_sha256,
    unpack_into,
)

LIMIT = 2**30  # unpacked bytes allowed in these tests

GENRES = ("blues", "jazz", "rock")
CLIPS_PER_GENRE = 2
SAMPLE_RATE = 8000


# --------------------------------------------------------------------------
# Fixtures: synthetic clips, archives, local server
# --------------------------------------------------------------------------


def _noise_clip(path: Path, seed: int) -> None:
    """0.1 s of quiet noise; content is irrelevant, only names matter."""
    rng = np.random.default_rng(seed)
    samples = (0.1 * rng.standard_normal(SAMPLE_RATE // 10)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")


def _make_clips(root: Path, ext: str) -> None:
    """Write ``<genre>/<genre>.NNNNN.<ext>`` under root."""
    for g, genre in enumerate(GENRES):
        for i in range(CLIPS_PER_GENRE):
            _noise_clip(root / f"{genre}/{genre}.{i:05d}.{ext}", seed=g * 100 + i)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Clip tree shared by all archives: ``<genre>/<genre>.NNNNN.{au,wav}``."""
    root = tmp_path_factory.mktemp("clips")
    _make_clips(root, "au")
    _make_clips(root, "wav")
    return root


@pytest.fixture
def served(tmp_path: Path):
    """A ThreadingHTTPServer on 127.0.0.1 serving ``tmp_path/srv``.

    Yields (srv_dir, base_url, requests) where ``requests`` records every
    requested path, so tests can prove nothing was downloaded.
    """
    srv = tmp_path / "srv"
    srv.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (stdlib naming)
            requests.append(self.path)
            if self.path.startswith("/truncated/"):
                return self._send_truncated()
            return super().do_GET()

        def _send_truncated(self):
            """Announce more bytes than sent, then hang up."""
            body = (srv / self.path.removeprefix("/truncated/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(srv))
    )
    # A short poll interval keeps shutdown() from adding 0.5 s per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv, f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """A proxy set in the environment must not intercept 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _tar_gz(clips: Path, out: Path, top: str = "genres", ext: str = "au") -> Path:
    """Original GTZAN layout: ``genres/<genre>/<genre>.NNNNN.au``."""
    with tarfile.open(out, "w:gz") as tar:
        for genre in GENRES:
            for clip in sorted((clips / genre).glob(f"*.{ext}")):
                tar.add(clip, arcname=f"{top}/{genre}/{clip.name}")
    return out


def _kaggle_zip(clips: Path, out: Path) -> Path:
    """Kaggle layout, including the sibling image folder that must be ignored."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/features_30_sec.csv", "filename,label\n")
        for genre in GENRES:
            zf.writestr(f"Data/images_original/{genre}/{genre}00000.png", b"png")
            for clip in sorted((clips / genre).glob("*.wav")):
                zf.write(clip, f"Data/genres_original/{genre}/{clip.name}")
    return out


def _leftovers(parent: Path, keep: set[str]) -> list[str]:
    """Anything in ``parent`` besides what the test expects there."""
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# --------------------------------------------------------------------------
# Fetching: pooch downloads, the sha256 decides
# --------------------------------------------------------------------------


def test_fetch_keeps_the_archive_only_when_its_checksum_matches(served, clips, tmp_path):
    srv, base, _ = served
    archive = _tar_gz(clips, srv / "genres.tar.gz")
    dest = tmp_path / "dl" / "genres.tar.gz"
    assert (
        fetch_archive(f"{base}/genres.tar.gz", f"sha256:{_sha(archive)}", dest, timeout_s=10)
        == dest
    )
    assert (
        dest.read_bytes() == archive.read_bytes()
        and _leftovers(dest.parent, {"genres.tar.gz"}) == []
    )
    dest.unlink()
    with pytest.raises(
        DownloadError, match=f"cannot download {base}/genres.tar.gz: sha256 checksum mismatch"
    ):
        fetch_archive(f"{base}/genres.tar.gz", "0" * 64, dest, timeout_s=10)
    assert _leftovers(dest.parent, set()) == []


def test_http_404_and_unreachable_servers_are_clear_errors(served, tmp_path):
    import socket

    _, base, _ = served
    with pytest.raises(DownloadError, match=f"cannot download {base}/missing.tar.gz: 404"):
        fetch_archive(f"{base}/missing.tar.gz", "0" * 64, tmp_path / "a.tar.gz", timeout_s=10)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match=f"cannot download http://127.0.0.1:{port}/x.tar.gz"):
        fetch_archive(
            f"http://127.0.0.1:{port}/x.tar.gz", "0" * 64, tmp_path / "b.tar.gz", timeout_s=5
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "srv"]


def test_a_truncated_transfer_is_never_kept(served, clips, tmp_path):
    srv, base, _ = served
    archive = _tar_gz(clips, srv / "genres.tar.gz")
    with pytest.raises(DownloadError, match="cannot download"):
        fetch_archive(
            f"{base}/truncated/genres.tar.gz", _sha(archive), tmp_path / "g.tar.gz", timeout_s=10
        )
    assert _leftovers(tmp_path, {"srv"}) == []


def test_a_missing_checksum_fails_before_downloading(served, tmp_path):
    _, base, requests = served
    with pytest.raises(DownloadError, match="no sha256 checksum"):
        fetch_archive(f"{base}/genres.tar.gz", "", tmp_path / "g.tar.gz", timeout_s=10)
    assert requests == [] and _leftovers(tmp_path, {"srv"}) == []


def test_a_local_archive_by_file_url(clips, tmp_path):
    archive = _tar_gz(clips, tmp_path / "genres.tar.gz")
    dest = fetch_archive(archive.as_uri(), _sha(archive), tmp_path / "out" / "genres.tar.gz")
    assert dest.read_bytes() == archive.read_bytes()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch_archive(archive.as_uri(), "0" * 64, tmp_path / "out2" / "genres.tar.gz")


@pytest.mark.parametrize("expected", ["sha256:{h}", "{h}", "SHA256:{H}", "  {h}\n"])
def test_checksum_formats(tmp_path, expected):
    blob = tmp_path / "blob"
    blob.write_bytes(b"genreflow")
    digest = sha256_of(blob)
    assert digest == hashlib.sha256(b"genreflow").hexdigest()
    assert normalise_sha256(expected.format(h=digest, H=digest.upper())) == digest


@pytest.mark.parametrize("bad", ["md5:" + "0" * 32, "sha256:xyz", "0" * 63])
def test_malformed_checksum_is_rejected(bad):
    with pytest.raises(DownloadError, match="invalid checksum"):
        normalise_sha256(bad)


# --------------------------------------------------------------------------
# Unpacking: into audio_dir, one rename per folder, refusing what could escape
# --------------------------------------------------------------------------


def test_unpack_moves_the_genre_root_into_audio_dir(clips, tmp_path):
    archive = _tar_gz(clips, tmp_path / "genres.tar.gz")
    audio = tmp_path / "data"
    (audio / "blues").mkdir(
        parents=True
    )  # Snakemake makes its outputs' folders first: empty ones are fine
    assert unpack_into(archive, audio, LIMIT) == sorted(GENRES)
    for genre in GENRES:
        assert sorted(p.name for p in (audio / genre).iterdir()) == [
            f"{genre}.{i:05d}.au" for i in range(CLIPS_PER_GENRE)
        ]
    assert _leftovers(tmp_path, {"genres.tar.gz", "data"}) == []


def test_unpack_kaggle_zip_layout(clips, tmp_path):
    archive = _kaggle_zip(clips, tmp_path / "download")  # no suffix: by content
    unpack_into(archive, tmp_path / "audio", LIMIT)
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == sorted(GENRES)
    assert (tmp_path / "audio" / "jazz" / "jazz.00001.wav").is_file()


@pytest.mark.parametrize("compression", ["", "bz2", "xz"])
def test_unpack_other_tar_compressions(clips, tmp_path, compression):
    archive = tmp_path / "a.bin"
    with tarfile.open(archive, f"w:{compression}") as tar:
        for clip in sorted((clips / "jazz").glob("*.au")):
            tar.add(clip, arcname=f"gtzan/genres/jazz/{clip.name}")
    unpack_into(archive, tmp_path / "audio", LIMIT)
    assert sorted(p.name for p in (tmp_path / "audio" / "jazz").iterdir()) == [
        "jazz.00000.au",
        "jazz.00001.au",
    ]


def test_unpack_genre_folders_at_top_level(clips, tmp_path):
    archive = _tar_gz(clips, tmp_path / "flat.tar.gz", top=".")
    unpack_into(archive, tmp_path / "audio", LIMIT)
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == sorted(GENRES)


def test_unpack_never_merges_into_existing_files(clips, tmp_path):
    archive = _tar_gz(clips, tmp_path / "g.tar.gz")
    (tmp_path / "audio" / "jazz").mkdir(parents=True)
    (tmp_path / "audio" / "jazz" / "mine.wav").write_bytes(b"user data")
    with pytest.raises(DownloadError, match="already holds files"):
        unpack_into(archive, tmp_path / "audio", LIMIT)
    assert sorted(p.name for p in (tmp_path / "audio").rglob("*")) == ["jazz", "mine.wav"]
    assert _leftovers(tmp_path, {"g.tar.gz", "audio"}) == []


def test_not_an_archive_and_no_genre_folders(tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<html>login required</html>")
    with pytest.raises(DownloadError, match="not a tar"):
        unpack_into(page, tmp_path / "audio", LIMIT)
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        _add_bytes(tar, "docs/readme.txt")
        _add_bytes(tar, "docs/blues/notes.txt")
    with pytest.raises(DownloadError, match="no genre folders") as err:
        unpack_into(other, tmp_path / "audio", LIMIT)
    assert "docs/readme.txt" in str(err.value)
    assert _leftovers(tmp_path, {"index.html", "other.tar.gz"}) == []


@pytest.mark.parametrize("fmt", ["gz", "xz", "zip"])
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_archive_is_rejected(tmp_path, fmt, damage):
    """The archive's own CRCs catch damage too; a flipped byte in a .tar.gz is only noticed in the
    gzip trailer, after the tar end marker."""
    payload = np.random.default_rng(0).bytes(50_000)  # incompressible
    good = tmp_path / f"good.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("genres/pop/pop.00000.wav", payload)
    else:
        with tarfile.open(good, f"w:{fmt}") as tar:
            _add_bytes(tar, "genres/pop/pop.00000.au", payload)
    data = bytearray(good.read_bytes())
    mid = len(data) // 2
    if damage == "truncate":
        del data[mid:]
    else:
        data[mid] ^= 0xFF
    broken = tmp_path / "broken"
    broken.write_bytes(bytes(data))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DownloadError, match="cannot unpack"):
        unpack_into(broken, work / "audio", LIMIT)
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_an_archive_bomb_is_refused_before_it_fills_the_disk(tmp_path, fmt):
    archive = tmp_path / f"bomb.{fmt}"
    zeros = bytes(3 * 2**20)  # 3 MiB of zeros compress to almost nothing
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(3):
                zf.writestr(f"genres/pop/pop.{i:05d}.wav", zeros)
    else:
        with tarfile.open(archive, "w:gz") as tar:
            for i in range(3):
                _add_bytes(tar, f"genres/pop/pop.{i:05d}.au", zeros)
    assert archive.stat().st_size < 100_000
    with pytest.raises(DownloadError, match="more than .* GiB"):
        unpack_into(archive, tmp_path / "audio", max_bytes=5 * 2**20)
    assert _leftovers(tmp_path, {archive.name}) == []


def _evil_tar(path: Path, build) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "genres/blues/blues.00000.au")
        build(tar)
    return path


def _symlink(name: str, target: str):
    def build(tar):
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        tar.addfile(info)

    return build


def _hardlink(name: str, target: str):
    def build(tar):
        info = tarfile.TarInfo(name)
        info.type = tarfile.LNKTYPE
        info.linkname = target
        tar.addfile(info)

    return build


def _device(tar):
    info = tarfile.TarInfo("genres/blues/tty")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 5, 0
    tar.addfile(info)


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda tar: _add_bytes(tar, "../evil"), "escapes"),
        (lambda tar: _add_bytes(tar, "genres/../../evil"), "escapes"),
        (lambda tar: _add_bytes(tar, "/tmp/evil"), "escapes"),
        (_symlink("genres/link", "/etc/passwd"), "symlink"),
        (_symlink("genres/link", "../../outside"), "symlink"),
        (_symlink("genres/link", "blues/../.."), "symlink"),
        (_hardlink("genres/hard", "/etc/passwd"), "hard link"),
        (_hardlink("genres/hard", "../outside"), "hard link"),
        (_device, "special file"),
        (
            lambda tar: (
                _symlink("genres/up", "blues")(tar),
                _add_bytes(tar, "genres/up/x"),
            ),
            "through a symlink",
        ),
    ],
    ids=[
        "dotdot",
        "inner-dotdot",
        "absolute",
        "symlink-abs",
        "symlink-out",
        "symlink-chain",
        "hardlink-abs",
        "hardlink-out",
        "device",
        "write-through-link",
    ],
)
def test_unsafe_tar_members_are_rejected(tmp_path, build, reason):
    archive = _evil_tar(tmp_path / "evil.tar.gz", build)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DownloadError, match=f"unsafe member.*{reason}"):
        unpack_into(archive, work / "audio", LIMIT)
    assert list(work.iterdir()) == []
    assert not (tmp_path.parent / "evil").exists() and not (tmp_path / "evil").exists()


def test_inside_links_are_allowed(tmp_path):
    def build(tar):
        _symlink("genres/blues/latest.au", "blues.00000.au")(tar)
        _hardlink("genres/blues/copy.au", "genres/blues/blues.00000.au")(tar)

    archive = _evil_tar(tmp_path / "ok.tar.gz", build)
    unpack_into(archive, tmp_path / "audio", LIMIT)
    assert (tmp_path / "audio" / "blues" / "latest.au").is_symlink()
    assert (tmp_path / "audio" / "blues" / "copy.au").read_bytes() == b"x"


def test_unsafe_zip_member_is_rejected(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("genres/blues/blues.00000.wav", b"x")
        zf.writestr("../evil", b"x")
    with pytest.raises(DownloadError, match="unsafe member '../evil'"):
        unpack_into(archive, tmp_path / "audio", LIMIT)
    assert _leftovers(tmp_path, {"evil.zip"}) == []


def test_find_genre_root_prefers_shallowest(tmp_path):
    (tmp_path / "a" / "genres" / "pop").mkdir(parents=True)
    (tmp_path / "a" / "genres" / "pop" / "pop.00000.wav").write_bytes(b"")
    (tmp_path / "a" / "genres" / "x" / "deeper" / "rock").mkdir(parents=True)
    (tmp_path / "a" / "genres" / "x" / "deeper" / "rock" / "rock.00000.wav").write_bytes(b"")
    assert find_genre_root(tmp_path) == tmp_path / "a" / "genres"


# --------------------------------------------------------------------------
# Snakemake script entry
# --------------------------------------------------------------------------

TINY_TRAINING = {
    "recipe": "cnn",
    "epochs": 2,
    "batch_size": 8,
    "filters": [4, 8],
    "window_s": 1.0,
    "eval_hop_s": 1.0,
    "windows_per_track": 2,
    "patience": 5,
    "min_steps_per_epoch": 1,
}


def _workflow_config(workdir: Path, url: str = "", sha256: str = "", **download) -> Path:
    import yaml

    cfg = workdir / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "audio_dir": "data",
                "genres": list(GENRES),
                "spectrogram": {"kind": "logmel", "duration_s": 4.0},
                "split": {"method": "ratio", "ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
                "train": TINY_TRAINING,
                "download": {"url": url, "sha256": sha256, **download},
            }
        )
    )
    return cfg


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def gtzan_like(tmp_path_factory) -> Path:
    """Four 4-s clips of each genre in GTZAN's original format (.au), as the archive holds them."""
    from conftest import make_dataset

    root = tmp_path_factory.mktemp("gtzan_like")
    make_dataset(root, list(GENRES), 4, seconds=4.0, ext="au")
    return root


def test_one_run_downloads_verifies_unpacks_and_trains(served, gtzan_like, tmp_path):
    from conftest import run_snakemake

    srv, base, requests = served
    archive = _tar_gz(gtzan_like, srv / "genres.tar.gz")
    work = tmp_path / "wf"
    work.mkdir()
    cfg = _workflow_config(
        work, f"{base}/genres.tar.gz", f"sha256:{_sha(archive)}", tracks_per_genre=4, extension="au"
    )
    proc = run_snakemake(work, "--cores", "2", "--configfile", str(cfg), timeout=600)
    out = proc.stdout + proc.stderr
    assert requests == ["/genres.tar.gz"]
    assert _snapshot(work / "data") == _snapshot(gtzan_like), (
        "the unpacked folder is the archive's genre root"
    )
    assert (work / "results/metrics/metrics.json").is_file(), "trained in the same run"
    assert "genreflow: cnn recipe" in out
    assert not [p for p in work.iterdir() if p.name.startswith(".data")], "no staging folder left"
    # the next run finds the tracks in audio_dir and neither downloads nor plans anything
    again = run_snakemake(work, "-n", "--cores", "2", "--configfile", str(cfg), timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr and requests == ["/genres.tar.gz"]


def test_a_wrong_checksum_stops_before_anything_is_unpacked(served, gtzan_like, tmp_path):
    from conftest import run_snakemake

    srv, base, _ = served
    _tar_gz(gtzan_like, srv / "genres.tar.gz")
    work = tmp_path / "wf"
    work.mkdir()
    cfg = _workflow_config(work, f"{base}/genres.tar.gz", "0" * 64, tracks_per_genre=4)
    proc = run_snakemake(work, "--cores", "2", "--configfile", str(cfg), check=False, timeout=300)
    assert proc.returncode != 0
    assert "checksum mismatch" in (work / "results/logs/download_archive.log").read_text()
    assert not list((work / "results").rglob("genres.tar.gz")), (
        "an unverified archive is never kept"
    )
    assert not _snapshot(work / "data") if (work / "data").exists() else True


@pytest.mark.parametrize(
    "configured", [False, True], ids=["no-download-configured", "download-configured"]
)
@pytest.mark.parametrize(
    "command",
    [["download", "-f"], ["--delete-all-output"]],
    ids=["download-f", "delete-all-output"],
)
def test_an_existing_audio_folder_is_never_deleted(
    served, gtzan_like, tmp_path, configured, command
):
    from conftest import run_snakemake

    srv, base, requests = served
    archive = _tar_gz(gtzan_like, srv / "genres.tar.gz")
    work = tmp_path / "wf"
    shutil.copytree(gtzan_like, work / "data")
    before = _snapshot(work / "data")
    url, sha = (f"{base}/genres.tar.gz", f"sha256:{_sha(archive)}") if configured else ("", "")
    cfg = _workflow_config(work, url, sha, tracks_per_genre=4)
    proc = run_snakemake(
        work, *command, "--cores", "1", "--configfile", str(cfg), check=False, timeout=300
    )
    assert _snapshot(work / "data") == before, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert requests == [], "nothing is downloaded for a folder that holds the tracks"
    if command[0] == "download" and not configured:
        assert proc.returncode != 0 and "download.url is not set" in proc.stdout + proc.stderr
