import numpy as np
import pytest
from conftest import SHARED_DATA, requires_shared_data, tone

from genreflow.spectrogram import (
    MUSICNN_MAX,
    blog_specgram_image,
    dequantise16,
    log_mel,
    musicnn_representation,
    quantise16,
    to_grayscale,
)


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


def test_musicnn_representation_is_musicnns_extractor_in_float32():
    librosa = pytest.importorskip("librosa")
    samples = tone(3.0, rate=16000, freq=1000.0)
    rep = musicnn_representation(samples, 16000)
    assert rep.dtype == np.float32 and rep.shape == (96, 1 + 3 * 16000 // 256)
    mel = librosa.feature.melspectrogram(y=samples, sr=16000, hop_length=256, n_fft=512, n_mels=96)
    np.testing.assert_allclose(rep, np.log10(10000 * mel.astype(np.float64) + 1), rtol=1e-5)
    centres = librosa.mel_frequencies(n_mels=96 + 2, fmax=8000.0)[1:-1]
    assert abs(centres[int(np.argmax(rep[:, 90]))] - 1000.0) < 100, "row 0 is the lowest band"
    with pytest.raises(ValueError):
        musicnn_representation(samples, 22050)


def test_16_bit_quantisation_round_trip_error_is_half_a_step():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, MUSICNN_MAX, size=(96, 500)).astype(np.float32)
    image = quantise16(values)
    assert image.dtype == np.uint16
    back = dequantise16(image)
    assert back.dtype == np.float32 and back.shape == values.shape
    assert np.abs(back - values).max() <= MUSICNN_MAX / 131070 * 1.01  # 6.1e-5
    assert image[-1, 0] == np.rint(values[0, 0] * 65535 / MUSICNN_MAX), "low bands at the bottom"
    clipped = dequantise16(quantise16(np.array([[-1.0, 100.0]], dtype=np.float32)))
    np.testing.assert_allclose(clipped, [[0.0, MUSICNN_MAX]])


def test_a_musicnn_png_comes_back_as_its_float_values(tmp_path):
    from genreflow.blocks import Item
    from genreflow.data import load_images
    from genreflow.featurize import featurize_file
    from genreflow.params import SpectrogramParams

    audio = tmp_path / "a.wav"
    from conftest import write_audio

    write_audio(audio, tone(2.0, rate=22050, freq=500.0))
    params = SpectrogramParams.from_config({"kind": "musicnn", "duration_s": 2.0})
    assert (params.sample_rate, params.n_fft, params.hop_length, params.n_mels) == (
        16000,
        512,
        256,
        96,
    )
    png = tmp_path / "a.png"
    row = featurize_file(Item("a", str(audio), str(png)), params)
    assert row["status"] == "ok"
    from genreflow.audio import decode

    samples, _ = decode(str(audio), 16000, 0.0, 2.0)
    expected = musicnn_representation(samples[: params.n_samples], 16000)
    (images,) = load_images([str(png)], [row["png_sha256"]])
    assert images.dtype == np.float32 and images.shape == (96, params.n_frames)
    assert np.abs(images - expected).max() <= MUSICNN_MAX / 131070 * 1.01
