import numpy as np
import pytest
from conftest import SHARED_DATA, requires_shared_data, tone

from genreflow.spectrogram import blog_specgram_image, log_mel, to_grayscale


def test_log_mel_has_one_column_per_hop_and_peaks_in_the_tone_band():
    librosa = pytest.importorskip("librosa")
    db = log_mel(tone(2.0, freq=1000.0), 22050, 2048, 512, 64, 0.0, 11025.0)
    assert db.shape == (64, 1 + int(2.0 * 22050) // 512)
    centres = librosa.mel_frequencies(n_mels=64 + 2, fmin=0.0, fmax=11025.0)[1:-1]
    peak = int(np.argmax(db[:, db.shape[1] // 2]))
    assert abs(centres[peak] - 1000.0) < 0.1 * 1000.0
    # a fixed reference: a loud tone sits inside the default range (-80..40 dB), far above the noise
    assert 20.0 < db[peak, db.shape[1] // 2] < 40.0 and db[peak].mean() - np.median(db) > 30


def test_grayscale_is_clipped_quantised_and_low_frequencies_at_the_bottom():
    db = np.array([[-200.0, -80.0], [40.0, 500.0]])  # row 0 = lowest mel band
    image = to_grayscale(db, -80.0, 40.0)
    assert image.dtype == np.uint8
    assert image.tolist() == [[255, 255], [0, 0]]


def test_silence_gives_finite_black_image():
    db = log_mel(np.zeros(22050, dtype=np.float32), 22050, 2048, 512, 128, 0.0, 11025.0)
    assert np.all(np.isfinite(db))
    assert not to_grayscale(db, -80.0, 40.0).any()


def test_blog_specgram_picture_has_requested_size_and_rgb():
    image = blog_specgram_image(tone(5.0), 64, 48)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert image.std() > 5  # a picture, not a flat colour


def test_blog_specgram_of_silence_does_not_crash():
    image = blog_specgram_image(np.zeros(22050 * 5, dtype=np.float32), 64, 64)
    assert image.shape == (64, 64, 3)


@requires_shared_data("gtzan-au-sample")
def test_real_au_clips_decode_to_full_length_spectrograms(tmp_path):
    from genreflow.blocks import Item
    from genreflow.featurize import featurize_file
    from genreflow.params import SpectrogramParams
    from genreflow.pngio import read_png, read_png_text

    params = SpectrogramParams()
    clips = sorted((SHARED_DATA / "gtzan-au-sample").glob("*/*.au"))
    assert len(clips) == 10
    for clip in clips:
        png = tmp_path / f"{clip.stem}.png"
        featurize_file(Item(clip.stem, str(clip), str(png)), params)
        image = read_png(png)
        assert image.shape == (128, params.n_frames) and image.dtype == np.uint8
        assert 20 < image.mean() < 235, f"{clip.name}: implausible dynamic range"
        assert image.std() > 10
        text = read_png_text(png)
        assert text["genreflow:source_rate"] == "22050" and text["genreflow:channels"] == "1"
        assert 29.9 < float(text["genreflow:duration_s"]) < 30.5
