import numpy as np
import pytest

from genreflow.pngio import read_png, read_png_text, write_png_atomic


@pytest.mark.parametrize("shape", [(7, 11), (5, 4, 3)])
def test_png_round_trip_with_utf8_text(tmp_path, shape):
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    text = {
        "genreflow:params": "abc",
        "genreflow:source": "Ünïcødé – 日本.flac",
        "genreflow:notes": "é ok",
    }
    write_png_atomic(tmp_path / "a.png", image, text)
    np.testing.assert_array_equal(read_png(tmp_path / "a.png"), image)
    assert read_png_text(tmp_path / "a.png") == text
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_text_chunks_come_before_the_pixels(tmp_path):
    """So that reading the provenance never decodes (or even reads) the image data."""
    write_png_atomic(
        tmp_path / "a.png", np.zeros((64, 64), dtype=np.uint8), {"genreflow:params": "x"}
    )
    data = (tmp_path / "a.png").read_bytes()
    assert 0 < data.index(b"iTXt") < data.index(b"IDAT")


def test_png_rejects_float_images(tmp_path):
    with pytest.raises(ValueError):
        write_png_atomic(tmp_path / "f.png", np.zeros((2, 2), dtype=np.float32))


def test_failed_write_leaves_neither_target_nor_temporary(tmp_path, monkeypatch):
    from PIL import Image

    def broken(self, fp, *args, **kwargs):
        with open(fp, "wb") as fh:
            fh.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError):
        write_png_atomic(tmp_path / "b.png", np.zeros((2, 2), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_text_of_missing_or_broken_png_is_empty(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert (
        read_png_text(tmp_path / "bad.png") == {} and read_png_text(tmp_path / "missing.png") == {}
    )


def test_a_spectrogram_that_is_not_what_its_job_wrote_is_named_with_the_command(tmp_path):
    import hashlib

    from genreflow.pngio import DamagedSpectrogram, check_pngs

    image = np.random.default_rng(1).integers(0, 256, size=(16, 40), dtype=np.uint8)
    write_png_atomic(tmp_path / "ok.png", image)
    sha = hashlib.sha256((tmp_path / "ok.png").read_bytes()).hexdigest()
    np.testing.assert_array_equal(read_png(tmp_path / "ok.png", sha), image)
    # same size, other bytes (a foreign PNG, or bits flipped in place)
    write_png_atomic(tmp_path / "foreign.png", image[::-1].copy())
    remake = f"snakemake --forcerun '{tmp_path / 'foreign.png'}'"
    with pytest.raises(DamagedSpectrogram, match=r"foreign\.png is damaged \(its sha256 is not"):
        read_png(tmp_path / "foreign.png", sha)
    assert (tmp_path / "foreign.png").exists(), "a reader removes nothing"
    with pytest.raises(DamagedSpectrogram) as raised:
        check_pngs([str(tmp_path / "ok.png"), str(tmp_path / "foreign.png")], [sha, sha])
    assert str(raised.value).startswith("0 spectrogram(s) missing, 1 not what")
    assert remake in str(raised.value)
    with pytest.raises(DamagedSpectrogram, match=r"1 spectrogram\(s\) missing, 0 not .*gone\.png"):
        check_pngs([str(tmp_path / "gone.png")], [sha])
    check_pngs([str(tmp_path / "ok.png"), str(tmp_path / "foreign.png")], [sha, ""])
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedSpectrogram, match="cut.png is damaged .*cannot be decoded"):
        read_png(tmp_path / "cut.png")


def test_16_bit_png_round_trip(tmp_path):
    image = np.random.default_rng(2).integers(0, 65536, size=(96, 50), dtype=np.uint16)
    write_png_atomic(tmp_path / "deep.png", image, {"genreflow:params": "x"})
    back = read_png(tmp_path / "deep.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)


def test_per_seed_metrics_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import json
    import pathlib

    from genreflow.evaluation import write_seed_metrics

    write_seed_metrics(tmp_path / "m.json", 42, {"test": {"track_accuracy": 0.5}})
    assert json.loads((tmp_path / "m.json").read_text())["seed"] == 42

    def broken(self, text, *args, **kwargs):
        with open(self, "w") as fh:
            fh.write(text[:10])
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", broken)
    with pytest.raises(OSError):
        write_seed_metrics(tmp_path / "n.json", 1, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
