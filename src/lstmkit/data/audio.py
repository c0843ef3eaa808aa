"""Audio to feature sequences: read a wav file, check its sample rate, compute MFCCs.

::

    cfg = AudioFeatures(sample_rate=8000, n_mfcc=13, deltas=2)       # 39 features per 10 ms frame
    x = featurize_file("7_jackson_32.wav", cfg)                      # (T, 39) float32
    xs = featurize_files(paths, cfg)                                 # a list, each file read once

Reading is :mod:`soundfile` (libsndfile); resampling and MFCCs are :mod:`librosa`
(``librosa.resample``, ``librosa.feature.mfcc``, ``librosa.feature.delta``): no hand-written DSP.
Both are imported inside the functions, so ``import lstmkit`` does not need them.

Per frame ``t`` (window ``win_length`` samples, hop ``hop_length``), librosa computes::

    S_t  = |STFT(x)_t|^2                       power spectrum, n_fft bins
    M_t  = log(mel_filterbank(n_mels) @ S_t)   log-mel energies (in dB)
    c_t  = DCT-II(M_t)[:n_mfcc]                the MFCCs

``deltas=1`` appends the first time-derivative of ``c`` (a 9-frame regression, librosa's
``delta``), ``deltas=2`` also the second: ``n_features = n_mfcc * (1 + deltas)``.

A file whose sample rate differs from ``sample_rate`` is an error naming the file, its rate and the
expected one, unless ``resample=True``. Stereo files are averaged to mono. The per-feature
standardisation (:class:`Standardizer`) is fitted on training sequences only and stored in the model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, DataError, InputValueError, ShapeError


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"audio features need the {module!r} package; install the audio extra: pip install 'lstmkit[audio]'"
        ) from None


@dataclass(frozen=True)
class AudioFeatures:
    """How a wav file becomes a ``(T, n_features)`` sequence (stored in a model file as a dict).

    ``sample_rate``: the rate every file must have (``None`` until :meth:`resolved` fills it with the
    first file's); ``resample``: resample other rates to it instead of failing; ``n_mfcc``,
    ``n_mels``: coefficients and mel bands; ``window_ms``, ``hop_ms``: frame length and step;
    ``deltas``: 0, 1 or 2 orders of time derivatives appended.
    """

    sample_rate: int | None = None
    resample: bool = False
    n_mfcc: int = 13
    n_mels: int = 40
    window_ms: float = 25.0
    hop_ms: float = 10.0
    deltas: int = 2

    def __post_init__(self) -> None:
        for name, low in (("n_mfcc", 1), ("n_mels", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}; found {value!r}")
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc ({self.n_mfcc}) must be <= n_mels ({self.n_mels})")
        if self.deltas not in (0, 1, 2) or isinstance(self.deltas, bool):
            raise ConfigError(f"deltas must be 0, 1 or 2; found {self.deltas!r}")
        if self.sample_rate is not None and (
            isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, (int, np.integer)) or self.sample_rate < 1000
        ):
            raise ConfigError(f"sample_rate must be an integer >= 1000 (Hz) or None; found {self.sample_rate!r}")
        for name in ("window_ms", "hop_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 1000:
                raise ConfigError(f"{name} must be a number of milliseconds in [1, 1000]; found {value!r}")
        if not isinstance(self.resample, bool):
            raise ConfigError(f"resample must be True or False; found {self.resample!r}")

    @property
    def n_features(self) -> int:
        return self.n_mfcc * (1 + self.deltas)

    def frames(self) -> tuple[int, int, int]:
        """``(n_fft, win_length, hop_length)`` in samples at ``sample_rate`` (n_fft: next power of 2)."""
        if self.sample_rate is None:
            raise ConfigError("AudioFeatures.sample_rate is not set; call resolved(first_file) first")
        win = max(16, round(self.window_ms * self.sample_rate / 1000))
        hop = max(1, round(self.hop_ms * self.sample_rate / 1000))
        return 1 << (win - 1).bit_length(), win, hop

    def resolved(self, first_file: str | PathLike[str]) -> AudioFeatures:
        """This config with ``sample_rate`` taken from ``first_file`` when it is not set."""
        if self.sample_rate is not None:
            return self
        return replace(self, sample_rate=wav_sample_rate(first_file))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> AudioFeatures:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"unknown audio feature setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**config)


# ------------------------------------------------------------------------------------------ reading
def wav_sample_rate(path: str | PathLike[str]) -> int:
    """The sample rate in the header of an audio file (DataError naming it if unreadable)."""
    sf = _import("soundfile")
    try:
        return int(sf.info(str(path)).samplerate)
    except (RuntimeError, OSError, ValueError, TypeError) as e:
        raise DataError(f"cannot read audio file {path}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def load_wav(path: str | PathLike[str], sample_rate: int, *, resample: bool = False) -> np.ndarray:
    """Mono float32 samples of an audio file at ``sample_rate``.

    A different rate is a DataError naming the file, its rate and ``sample_rate`` unless ``resample``
    (librosa's resampler then converts it). Unreadable / corrupt / empty files: DataError naming the file.
    """
    sf = _import("soundfile")
    p = Path(path)
    if not p.is_file():
        raise DataError(f"audio file not found: {p}")
    try:
        samples, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as e:
        raise DataError(f"cannot read audio file {p}: {_one_line(e)}") from None
    if samples.shape[0] == 0:
        raise DataError(f"audio file {p} has no samples")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if rate != sample_rate:
        if not resample:
            raise DataError(
                f"audio file {p} has sample rate {rate} Hz, expected {sample_rate} Hz; "
                "convert it or pass --resample (resample=True)"
            )
        librosa = _import("librosa")
        mono = librosa.resample(mono, orig_sr=int(rate), target_sr=int(sample_rate))
    if not np.isfinite(mono).all():
        raise InputValueError(f"audio file {p} contains NaN or infinite samples")
    return np.ascontiguousarray(mono, dtype=np.float32)


def mfcc_features(samples: np.ndarray, config: AudioFeatures) -> np.ndarray:
    """``(T, n_features)`` float32 MFCCs (plus deltas) of mono ``samples`` at ``config.sample_rate``."""
    librosa = _import("librosa")
    n_fft, win, hop = config.frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_fft is too large for a signal of length ...": short clips are padded
        coeffs = librosa.feature.mfcc(
            y=np.asarray(samples, dtype=np.float32), sr=config.sample_rate, n_mfcc=config.n_mfcc,
            n_fft=n_fft, win_length=win, hop_length=hop, n_mels=config.n_mels,
        )
        parts = [coeffs]
        for order in range(1, config.deltas + 1):
            parts.append(librosa.feature.delta(coeffs, order=order, mode="nearest"))
    return np.ascontiguousarray(np.concatenate(parts, axis=0).T, dtype=np.float32)


def featurize_file(path: str | PathLike[str], config: AudioFeatures) -> np.ndarray:
    """Read ``path`` (checking its rate) and return its ``(T, n_features)`` MFCC sequence."""
    if config.sample_rate is None:
        config = config.resolved(path)
    return mfcc_features(load_wav(path, config.sample_rate, resample=config.resample), config)


def featurize_files(paths: Sequence[str | PathLike[str]], config: AudioFeatures) -> list[np.ndarray]:
    """:func:`featurize_file` of each path, in order (``config`` must have its sample rate set)."""
    if config.sample_rate is None:
        raise ConfigError("featurize_files: config.sample_rate is not set; use config.resolved(paths[0])")
    return [featurize_file(p, config) for p in paths]


# ----------------------------------------------------------------------------------- standardising
class Standardizer:
    """Per-feature ``(x - mean) / std`` with statistics over every frame of the training sequences.

    ``std`` is floored at ``1e-6`` of the largest one (and at 1e-12), so a constant feature maps to 0.
    """

    def __init__(self, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)

    def fit(self, sequences: Sequence[np.ndarray]) -> Standardizer:
        if not sequences:
            raise DataError("Standardizer.fit: no sequences")
        frames = np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences], axis=0)
        mean = frames.mean(axis=0)
        std = frames.std(axis=0)
        std = np.maximum(std, max(1e-12, 1e-6 * float(std.max(initial=0.0))))
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        return self

    def transform(self, sequence: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise ConfigError("Standardizer.transform: not fitted")
        if sequence.shape[-1] != self.mean.shape[0]:
            raise ShapeError(f"standardizer: expected {self.mean.shape[0]} features, found {sequence.shape[-1]}")
        return ((sequence - self.mean) / self.std).astype(np.float32)


__all__ = [
    "AudioFeatures", "wav_sample_rate", "load_wav", "mfcc_features", "featurize_file", "featurize_files", "Standardizer",
]
