import numpy as np
import pytest

from genreflow.pngio import read_png, read_png_text, write_png_atomic


@pytest.mark.parametrize("shape", [(7, 11), (5, 4, 3)])
def test_png_round_trip_with_utf8_text(tmp_path, shape):
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    text = {"genreflow:params": "abc", "genreflow:source": "Ünïcødé – 日本.flac", "genreflow:notes": "é ok"}
    write_png_atomic(tmp_path / "a.png", image, text)
    np.testing.assert_array_equal(read_png(tmp_path / "a.png"), image)
    assert read_png_text(tmp_path / "a.png") == text
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_text_chunks_come_before_the_pixels(tmp_path):
    """So that reading the provenance never decodes (or even reads) the image data."""
    write_png_atomic(tmp_path / "a.png", np.zeros((64, 64), dtype=np.uint8), {"genreflow:params": "x"})
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
    assert read_png_text(tmp_path / "bad.png") == {} and read_png_text(tmp_path / "missing.png") == {}
