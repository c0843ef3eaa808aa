"""Audio features: wav reading with sample-rate checks, MFCCs from librosa, standardisation."""

from __future__ import annotations

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from lstmkit.data.audio import AudioFeatures, Standardizer, featurize_file, load_wav, mfcc_features  # noqa: E402
from lstmkit.errors import ConfigError, DataError, ShapeError  # noqa: E402


def tone(path, freq=440.0, seconds=0.25, rate=8000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    y = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(str(path), np.stack([y] * channels, axis=1) if channels > 1 else y, rate)
    return path


def test_load_wav_checks_the_sample_rate(tmp_path):
    f = tone(tmp_path / "a.wav", rate=16000)
    assert load_wav(f, 16000).shape == (4000,)
    with pytest.raises(DataError) as e:
        load_wav(f, 8000)
    msg = str(e.value)
    assert "a.wav" in msg and "16000 Hz" in msg and "expected 8000 Hz" in msg and "--resample" in msg and "\n" not in msg
    y = load_wav(f, 8000, resample=True)
    assert y.dtype == np.float32 and abs(len(y) - 2000) <= 1


def test_load_wav_stereo_is_averaged_to_mono(tmp_path):
    y = load_wav(tone(tmp_path / "s.wav", channels=2), 8000)
    assert y.ndim == 1 and np.allclose(y, load_wav(tone(tmp_path / "m.wav"), 8000), atol=1e-4)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00not really a wav file at all", bytes(range(256)) * 4])
def test_corrupt_or_empty_wav_is_one_line_naming_the_file(tmp_path, content):
    f = tmp_path / "broken.wav"
    f.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_wav(f, 8000)
    assert "broken.wav" in str(e.value) and "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_wav(tmp_path / "nope.wav", 8000)


def test_mfcc_shape_frames_and_deltas(tmp_path):
    cfg = AudioFeatures(sample_rate=8000, n_mfcc=13, deltas=2)
    assert cfg.frames() == (256, 200, 80) and cfg.n_features == 39
    x = featurize_file(tone(tmp_path / "a.wav", seconds=0.5), cfg)
    assert x.dtype == np.float32 and x.shape == (51, 39) and np.isfinite(x).all()   # 4000 / 80 + 1 centred frames
    x1 = mfcc_features(load_wav(tmp_path / "a.wav", 8000), AudioFeatures(sample_rate=8000, n_mfcc=20, deltas=0))
    assert x1.shape == (51, 20)
    assert np.allclose(x[:, :13], mfcc_features(load_wav(tmp_path / "a.wav", 8000), AudioFeatures(sample_rate=8000, deltas=0)))


def test_very_short_clip_still_gives_frames(tmp_path):
    x = featurize_file(tone(tmp_path / "short.wav", seconds=0.01), AudioFeatures(sample_rate=8000))
    assert x.shape[0] >= 1 and np.isfinite(x).all()


def test_different_pitches_give_different_features(tmp_path):
    cfg = AudioFeatures(sample_rate=8000, deltas=0)
    low = featurize_file(tone(tmp_path / "l.wav", 300), cfg).mean(0)
    high = featurize_file(tone(tmp_path / "h.wav", 1500), cfg).mean(0)
    assert np.abs(low - high).max() > 10


def test_config_checks_and_round_trip():
    cfg = AudioFeatures(sample_rate=8000, n_mfcc=20, deltas=1, hop_ms=5)
    assert AudioFeatures.from_dict(cfg.to_dict()) == cfg
    for bad in (dict(deltas=3), dict(n_mfcc=0), dict(n_mfcc=50, n_mels=40), dict(sample_rate=10), dict(hop_ms=0)):
        with pytest.raises(ConfigError):
            AudioFeatures(**bad)
    with pytest.raises(ConfigError, match="unknown audio feature setting"):
        AudioFeatures.from_dict({"n_mfcc": 13, "colour": "red"})
    with pytest.raises(ConfigError, match="sample_rate is not set"):
        AudioFeatures().frames()


def test_standardizer_uses_training_frames_only():
    rng = np.random.default_rng(0)
    train = [rng.normal(5, 2, (n, 3)).astype(np.float32) for n in (10, 30, 7)]
    train[0][:, 2] = train[1][:, 2] = train[2][:, 2] = 1.0   # a constant feature maps to 0, not NaN
    s = Standardizer().fit(train)
    z = np.concatenate([s.transform(x) for x in train])
    assert np.allclose(z[:, :2].mean(0), 0, atol=1e-5) and np.allclose(z[:, :2].std(0), 1, atol=1e-4)
    assert np.all(z[:, 2] == 0)
    other = rng.normal(0, 1, (4, 3)).astype(np.float32)
    assert np.allclose(s.transform(other), (other - s.mean) / s.std)
    with pytest.raises(ShapeError, match="expected 3 features, found 2"):
        s.transform(other[:, :2])
