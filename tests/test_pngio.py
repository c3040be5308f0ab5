import numpy as np
import pytest

from genreflow.pngio import encode_png, read_png, read_png_text, write_png_atomic


@pytest.mark.parametrize("shape", [(7, 11), (5, 4, 3)])
def test_png_round_trip_with_text(tmp_path, shape):
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    write_png_atomic(tmp_path / "a.png", image, {"genreflow:params": "abc", "genreflow:notes": "é ok"})
    np.testing.assert_array_equal(read_png(tmp_path / "a.png"), image)
    assert read_png_text(tmp_path / "a.png")["genreflow:params"] == "abc"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_png_rejects_float_images():
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2), dtype=np.float32))


def test_failed_write_leaves_neither_target_nor_temporary(tmp_path, monkeypatch):
    import pathlib

    def broken(self, data):
        with self.open("wb") as fh:
            fh.write(data[:10])
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_bytes", broken)
    with pytest.raises(OSError):
        write_png_atomic(tmp_path / "b.png", np.zeros((2, 2), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_text_of_missing_or_broken_png_is_empty(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert read_png_text(tmp_path / "bad.png") == {} and read_png_text(tmp_path / "missing.png") == {}
