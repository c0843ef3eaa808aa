"""One registry of the kinds of file lstmkit writes, behind :func:`lstmkit.load`.

Every lstmkit file carries a ``kind`` marker in its metadata (:mod:`lstmkit.util.container`). This
table says, for each kind, what the file holds, which command reads it, and which function loads it,
so ``lstmkit.load(path)`` returns the right object for any file lstmkit wrote:

==============================  =====================================================  ==============================
kind                            what ``lstmkit.load`` returns                           read by
==============================  =====================================================  ==============================
``sequential``                  ``models.Sequential`` (a Keras-style model)             ``lstmkit.models.load``
``sequential`` + text task      ``tasks.text.classifier.TextClassifier``                ``lstmkit text classify``
``sequential`` + sentiment      ``tasks.text.sentiment.SentimentClassifier``            ``lstmkit inspect``
``language_model``              ``tasks.text.language_model.LanguageModelGenerator``    ``lstmkit text generate``
``language_model_checkpoint``   the same (an older version's checkpoint; generation)    ``lstmkit text generate``
``forecaster``                  ``tasks.timeseries.forecaster.Forecaster``              ``lstmkit forecast predict``
``sequence_classifier``         ``tasks.sequences.classifier.SequenceClassifier``      ``lstmkit seq classify``
``translator``                  ``tasks.translate.translator.Translator``               ``lstmkit translate``
``train_checkpoint``            ``train.checkpoint.Checkpoint`` (the engine's)          ``--resume`` of any command
``train_checkpoint`` + LM       ``LanguageModelGenerator`` (generation from it)         ``lstmkit text generate``
a ``.keras`` file (Keras 3)     ``models.Sequential`` (its weights mapped)              ``lstmkit.interop.keras``
==============================  =====================================================  ==============================

The loaders are named by dotted path and imported only when a file of that kind is loaded: the
registry sits in the lowest layer and points *up* by name only, the way entry points do, so no
module import runs up the layers. One spelling per kind (underscores); older spellings
(``sequence-classifier``) are accepted as aliases.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from lstmkit.errors import ModelFileError
from lstmkit.util.container import KIND_ALIASES, canonical_kind, file_kind, read_raw_metadata


@dataclass(frozen=True)
class Kind:
    """A kind of lstmkit file: its marker, what it holds, the command that reads it and its loader."""

    name: str
    holds: str
    command: str
    loader: str  # "package.module:callable", called with the path

    def load(self, path: Any) -> Any:
        module, _, attr = self.loader.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj(path)


KINDS: dict[str, Kind] = {}
#: a ``sequential`` file's ``preprocessing.task`` -> the kind that reads it
SEQUENTIAL_TASKS: dict[str, str] = {}
#: an engine checkpoint's ``extra`` key -> the kind that reads it (a language model's checkpoint generates)
CHECKPOINT_TASKS: dict[str, str] = {"language_model": "language_model_checkpoint"}


def register(kind: Kind, *, sequential_task: str | None = None) -> Kind:
    """Add a kind (or, with ``sequential_task``, a task stored as a Keras-style ``sequential`` file)."""
    if sequential_task is not None:
        SEQUENTIAL_TASKS[sequential_task] = kind.name
    KINDS[kind.name] = kind
    return kind


def describe(kind: str) -> str:
    """``"a language model (use lstmkit text generate)"``, for wrong-kind messages."""
    k = KINDS.get(canonical_kind(kind))
    return f"{k.holds} (use {k.command})" if k else f"a {kind!r} file"


def kind_of(path: Any) -> str:
    """The kind of the lstmkit file at ``path`` (a ``sequential`` file's task decides between its kinds)."""
    import json

    meta = read_raw_metadata(path)
    kind = file_kind(meta)
    if kind == "train_checkpoint":
        try:
            extra = json.loads(meta.get("extra", "{}"))
        except ValueError:
            extra = {}
        for key, task_kind in CHECKPOINT_TASKS.items():
            if isinstance(extra, dict) and key in extra:
                return task_kind
        return kind
    if kind == "sequential":
        try:
            task = json.loads(meta.get("preprocessing", "{}")).get("task")
        except (ValueError, AttributeError):
            task = None
        return SEQUENTIAL_TASKS.get(task, kind) if isinstance(task, str) else kind
    return kind


def load(path: Any, map_location: Any = None) -> Any:
    """Load any file lstmkit wrote and return the object that uses it (see the table above).

    ``map_location`` moves it to a device (:mod:`lstmkit.util.devices`); files load on the CPU.

    >>> import os, tempfile
    >>> from lstmkit.models import Sequential
    >>> from lstmkit.layers import Dense
    >>> p = os.path.join(tempfile.mkdtemp(), "m.lstmkit")
    >>> Sequential([Dense(2, input_shape=(3,))]).save(p)
    >>> type(load(p)).__name__
    'Sequential'
    """
    from lstmkit.util.devices import place, resolve_device

    resolve_device(map_location)  # an unavailable device is one line before anything is read
    if path is None or not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"path: expected the path of an lstmkit file, found {type(path).__name__}")
    if str(os.fspath(path)).lower().endswith(".keras"):  # a Keras 3 file: imported by name, like the loaders
        return place(Kind("keras", "a Keras 3 model", "lstmkit.interop.keras.load_keras",
                          "lstmkit.interop.keras:load_keras").load(path), map_location)
    kind = kind_of(path)
    entry = KINDS.get(kind)
    if entry is None:
        known = ", ".join(sorted(KINDS))
        raise ModelFileError(f"model file {str(os.fspath(path))!r}: unknown kind {kind!r} (this lstmkit reads {known})")
    return place(entry.load(path), map_location)


register(Kind("sequential", "a Keras-style model", "lstmkit.models.load", "lstmkit.models.serialization:load_model"))
register(Kind("text_classifier", "a text classifier", "lstmkit text classify",
              "lstmkit.tasks.text.classifier:TextClassifier.load"), sequential_task="text_classifier")
register(Kind("sentiment", "the sentiment demo's model", "lstmkit inspect or lstmkit demo",
              "lstmkit.tasks.text.sentiment:load_classifier"), sequential_task="sentiment")
register(Kind("language_model", "a language model", "lstmkit text generate",
              "lstmkit.tasks.text.language_model:LanguageModelGenerator.load"))
register(Kind("language_model_checkpoint", "a language-model training checkpoint", "lstmkit text generate or train-lm --resume",
              "lstmkit.tasks.text.language_model:LanguageModelGenerator.load"))
register(Kind("forecaster", "a forecaster", "lstmkit forecast predict",
              "lstmkit.tasks.timeseries.forecaster:Forecaster.load"))
register(Kind("sequence_classifier", "a sequence classifier", "lstmkit seq classify",
              "lstmkit.tasks.sequences.classifier:SequenceClassifier.load"))
register(Kind("translator", "a translation model", "lstmkit translate",
              "lstmkit.tasks.translate.translator:Translator.load"))
register(Kind("train_checkpoint", "a training checkpoint", "the --resume of the command that wrote it",
              "lstmkit.train.checkpoint:read_info"))

__all__ = ["Kind", "KINDS", "KIND_ALIASES", "register", "canonical_kind", "describe", "kind_of", "load"]
