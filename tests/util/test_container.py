"""The file container's checksums and each loader's schema checks, for every kind of file lstmkit writes.

* Format version 2: ``sha256`` covers every metadata field, so an edited JSON header (the file otherwise a
  valid safetensors file) is refused as surely as a flipped weight: one-line ModelFileError naming the file.
* Format version 1 (no metadata checksum, :mod:`old_format`): each loader's schema catches edited metadata
  with one line naming the field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.errors import ModelFileError
from old_format import old_format


# ------------------------------------------------------------------------------ one tiny file of every kind
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One file of each kind lstmkit writes, trained for one epoch on a few examples (about a second in all)."""
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential
    from lstmkit.tasks.sequences.classifier import SequenceClassifier
    from lstmkit.tasks.text.classifier import TextClassifier
    from lstmkit.tasks.text.language_model import LMConfig, train_language_model
    from lstmkit.tasks.text.sentiment import train_sentiment
    from lstmkit.tasks.timeseries.forecaster import Forecaster
    from lstmkit.train import TensorBatches, Trainer

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("kinds")
    out = {name: d / f"{name}.lstmkit" for name in ("sequential", "text_classifier", "sentiment", "language_model",
                                                      "forecaster", "sequence_classifier")}
    Sequential([Dense(2, input_shape=(3,))]).save(out["sequential"])

    texts, labels = ["good film", "great plot", "bad film", "awful plot"], ["pos", "pos", "neg", "neg"]
    TextClassifier(units=2, embedding_dim=2, max_length=4, epochs=1, batch_size=4).fit(texts, labels).save(
        out["text_classifier"])

    reviews = d / "reviews"
    reviews.mkdir()
    for split in ("train", "valid", "test"):
        (reviews / f"{split}.jsonl").write_text(
            "".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(["bad film", "good film"] * 2)))
    train_sentiment(reviews, epochs=1, output=out["sentiment"], max_tokens=20, embedding_dim=2, units=2, max_length=4,
                    batch_size=4, verbose=0, examples=[])

    text = d / "t.txt"
    text.write_text("to be or not to be.\n" * 4)
    train_language_model(text, out["language_model"],
                         LMConfig(level="char", layers=1, units=4, bptt=4, batch_size=2, epochs=1))
    out["language_model_checkpoint"] = d / "language_model.lstmkit.ckpt"  # the engine's checkpoint of that run
    assert out["language_model_checkpoint"].is_file()

    t = np.arange(60)
    series = pd.DataFrame({"y": np.sin(t / 4.0)}, index=pd.date_range("2024-01-01", periods=60, freq="h", name="time"))
    Forecaster(12, 3, segment=3, units=2, epochs=1, batch_size=16).fit(series).save(out["forecaster"])

    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(4)]
    SequenceClassifier(units=2, epochs=1, batch_size=4, validation_split=0.0).fit(seqs, ["a", "b"] * 2).save(
        out["sequence_classifier"])

    model = torch.nn.Linear(2, 1)
    out["train_checkpoint"] = d / "run.ckpt"
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1),
            lambda m, b, c: torch.nn.functional.mse_loss(m(b[0]), b[1]),
            TensorBatches(torch.randn(4, 2), torch.randn(4, 1), batch_size=4), epochs=1,
            checkpoint=out["train_checkpoint"]).fit()
    return out


def _load_sequential(p):
    from lstmkit.models import load

    return load(p)


def _load_text_classifier(p):
    from lstmkit.tasks.text.classifier import TextClassifier

    return TextClassifier.load(p)


def _load_sentiment(p):
    from lstmkit.tasks.text.sentiment import load_classifier

    return load_classifier(p)


def _load_language_model(p):
    from lstmkit.tasks.text.language_model import load_language_model

    return load_language_model(p)


def _load_forecaster(p):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    return Forecaster.load(p)


def _load_sequence_classifier(p):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    return SequenceClassifier.load(p)


def _load_checkpoint(p):
    from lstmkit.train.checkpoint import load

    return load(p)


#: kind -> the kind's own loader
LOADERS: dict[str, Callable[[Path], Any]] = {
    "sequential": _load_sequential,
    "text_classifier": _load_text_classifier,
    "sentiment": _load_sentiment,
    "language_model": _load_language_model,
    "language_model_checkpoint": _load_language_model,
    "forecaster": _load_forecaster,
    "sequence_classifier": _load_sequence_classifier,
    "train_checkpoint": _load_checkpoint,
}


# ------------------------------------------------------------------------------ rewriting a file's header
def _rewrite(src: Path, dst: Path, *, meta_edit: Callable[[dict[str, str]], None] | None = None,
             tensor_edit: Callable[[dict[str, torch.Tensor]], None] | None = None) -> Path:
    """Read ``src`` with safetensors, edit its string metadata and/or tensors, write a valid safetensors ``dst``.

    The checksums are left as they were: only what the edit changed differs.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(src))
    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata())
    if meta_edit is not None:
        meta_edit(meta)
    if tensor_edit is not None:
        tensor_edit(tensors)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def _json_edit(field: str, edit: Callable[[Any], Any]) -> Callable[[dict[str, str]], None]:
    """A metadata edit: decode JSON field ``field``, apply ``edit`` (returns the new value), encode it back."""

    def apply(meta: dict[str, str]) -> None:
        before = meta[field]
        meta[field] = json.dumps(edit(json.loads(before)))
        assert meta[field] != before, f"the edit of {field!r} changed nothing"

    return apply


def _nested(path: str, change: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An edit of one value inside a JSON object (``path`` like ``"a.b"``; list indices as digits)."""

    def edit(value: Any) -> Any:
        node = value
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = change(node[keys[-1]])
        return value

    return edit


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path, *needles: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# Each edit is one a loader would otherwise accept and act on: a label order, a scaler, a vocabulary, an
# activation or a position silently changed would give wrong results, not an error.
EDITS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "sequential": ("config", _nested("config.layers.0.config.activation", lambda a: "relu")),
    "text_classifier": ("preprocessing", _nested("labels", lambda labels: labels[::-1])),
    "sentiment": ("preprocessing", _nested("vectorizer.vocabulary", lambda v: v[:2] + v[2:][::-1])),
    "language_model": ("vocabulary", _nested("tokens", lambda tokens: tokens[::-1])),
    "language_model_checkpoint": ("training", _nested("position.epoch", lambda e: e + 1)),
    "forecaster": ("scaler", _nested("mean", lambda m: [x + 1.0 for x in m])),
    "sequence_classifier": ("classes", lambda classes: classes[::-1]),
    "train_checkpoint": ("fingerprint", _nested("learning_rate", lambda lr: lr * 2)),
}


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_an_edited_metadata_field_is_refused(files, tmp_path, kind):
    field, edit = EDITS[kind]
    path = _rewrite(files[kind], tmp_path / f"edited-{kind}.lstmkit", meta_edit=_json_edit(field, edit))
    LOADERS[kind](files[kind])  # the unedited file loads
    with pytest.raises(ModelFileError) as e:
        LOADERS[kind](path)
    _one_line_naming(e, path, "metadata does not match its checksum")
    with pytest.raises(ModelFileError) as e:  # and through the one entry point
        lstmkit.load(path)
    _one_line_naming(e, path, "metadata does not match its checksum")


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_an_added_or_removed_metadata_field_is_refused(files, tmp_path, kind):
    added = _rewrite(files[kind], tmp_path / "added.lstmkit", meta_edit=lambda m: m.update(note='"hello"'))
    with pytest.raises(ModelFileError) as e:
        LOADERS[kind](added)
    _one_line_naming(e, added, "metadata does not match its checksum")
    field = EDITS[kind][0]
    removed = _rewrite(files[kind], tmp_path / "removed.lstmkit", meta_edit=lambda m: m.pop(field))
    with pytest.raises(ModelFileError) as e:
        LOADERS[kind](removed)
    _one_line_naming(e, removed, "metadata does not match its checksum")


def _flip_first_float(tensors: dict[str, torch.Tensor]) -> None:
    name = next(n for n in sorted(tensors) if tensors[n].is_floating_point() and tensors[n].numel())
    t = tensors[name].clone()
    t.view(-1)[0] += 1.0
    tensors[name] = t


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_flipped_weight_is_refused(files, tmp_path, kind):
    path = _rewrite(files[kind], tmp_path / f"flipped-{kind}.lstmkit", tensor_edit=_flip_first_float)
    with pytest.raises(ModelFileError) as e:
        LOADERS[kind](path)
    _one_line_naming(e, path, "weights do not match their checksum")


def test_a_changed_format_version_or_checksum_is_refused(files, tmp_path):
    src = files["sequential"]
    newer = _rewrite(src, tmp_path / "newer.lstmkit", meta_edit=lambda m: m.update(format_version="3"))
    with pytest.raises(ModelFileError) as e:
        _load_sequential(newer)
    _one_line_naming(e, newer, "format version '3' is newer")
    # claiming version 1 to skip the check does not help: a file that carries a sha256 is checked
    downgraded = _rewrite(src, tmp_path / "v1.lstmkit", meta_edit=lambda m: m.update(
        format_version="1", config=m["config"].replace('"linear"', '"relu"')))
    with pytest.raises(ModelFileError) as e:
        _load_sequential(downgraded)
    _one_line_naming(e, downgraded, "metadata does not match its checksum")
    zeros = _rewrite(src, tmp_path / "zeros.lstmkit", meta_edit=lambda m: m.update(sha256="0" * 64))
    with pytest.raises(ModelFileError) as e:
        _load_sequential(zeros)
    _one_line_naming(e, zeros, "metadata does not match its checksum")


def test_metadata_digest_covers_every_field_and_ignores_order():
    from lstmkit.util.container import metadata_digest

    meta = {"a": "1", "b": "2", "weights_sha256": "w"}
    assert metadata_digest(meta) == metadata_digest(dict(reversed(list(meta.items()))))
    assert metadata_digest(meta) == metadata_digest({**meta, "sha256": "anything"})  # its own field is left out
    for key in meta:
        assert metadata_digest({**meta, key: meta[key] + "x"}) != metadata_digest(meta), key
    # a key and a value cannot trade characters and keep the digest
    assert metadata_digest({"ab": "c"}) != metadata_digest({"a": "bc"})


# ------------------------------------------------------------------------------ format version 1: the schemas
def _v1(files, kind: str, tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None) -> Path:
    return old_format(files[kind], edit, tmp_path / f"v1-{kind}.lstmkit")


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_an_unedited_version_1_file_still_loads(files, tmp_path, kind):
    path = _v1(files, kind, tmp_path, None)
    LOADERS[kind](path)


def _more_labels(f):
    f["preprocessing"]["labels"].append("maybe")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(fields: dict[str, Any]) -> None:
        _nested(path, lambda _old: value)(fields)

    return edit


def _unknown_layer_keyword(f):
    f["config"]["config"]["layers"][0]["config"]["bogus_keyword"] = 1


# (kind, edit of the decoded fields, what the one line must hold: the field it names)
V1_CASES = [
    pytest.param("text_classifier", _more_labels, ("'preprocessing.labels'", "expected 2"), id="tc-more-labels-than-outputs"),
    pytest.param("text_classifier", _set("config", ["Sequential"]), ("'config'",), id="tc-config-list"),
    pytest.param("sequential", _set("config", ["Sequential"]), ("'config'",), id="sequential-config-list"),
    pytest.param("sequential", _unknown_layer_keyword, ("bogus_keyword",), id="sequential-unknown-layer-keyword"),
    pytest.param("sentiment", _unknown_layer_keyword, ("bogus_keyword",), id="sentiment-unknown-layer-keyword"),
    pytest.param("language_model", _set("config", ["LanguageModel"]), ("'config'",), id="lm-config-list"),
    # the weights do not depend on the context (the LSTM reads it segment by segment): a context that is
    # not a multiple of the network's segment, or not a positive integer, is what a version-1 file can show
    pytest.param("forecaster", _set("params.context", 13), ("'params.context'", "multiple of", "13"),
                 id="forecaster-context-off-the-segment-grid"),
    pytest.param("forecaster", _set("params.context", -12), ("'params.context'", ">= 1", "-12"),
                 id="forecaster-context-negative"),
    pytest.param("forecaster", _set("params.horizon", 6), ("'params.horizon'", "6"), id="forecaster-horizon"),
    pytest.param("forecaster", _set("network.horizon", 6), ("network",), id="forecaster-network-horizon"),
    pytest.param("language_model_checkpoint", _set("training.position.epoch", -7), ("position.epoch", "-7"),
                 id="lm-checkpoint-epoch"),
    pytest.param("train_checkpoint", _set("training.position.epoch", -7), ("position.epoch", "-7"),
                 id="checkpoint-epoch"),
    # a layer count is checked against the weights before a network is built from it (1e12 layers would hang)
    pytest.param("language_model", _set("config.config.num_layers", 10 ** 12), ("'config.config.num_layers'",),
                 id="lm-huge-num-layers"),
    pytest.param("language_model_checkpoint", _set("extra.language_model.model.config.num_layers", 10 ** 12),
                 ("num_layers",),
                 id="lm-checkpoint-huge-layers"),
    pytest.param("forecaster", _set("network.num_layers", 10 ** 12), ("'network.num_layers'",),
                 id="forecaster-huge-num-layers"),
    pytest.param("sequence_classifier", _set("params.layers", 10 ** 12), ("'params.layers'",),
                 id="seq-huge-layers"),
    # a class name that is not a string, a vectorizer without a vocabulary: one line, not a TypeError
    pytest.param("sequential", _set("config.class_name", ["Sequential"]), ("unknown model class",),
                 id="sequential-class-name-list"),
    pytest.param("text_classifier", _set("config.config.layers.0.class_name", {"a": 1}), ("'config.config.layers[0]'",),
                 id="tc-layer-class-name-object"),
    pytest.param("text_classifier", _set("preprocessing.task", ["text_classifier"]), ("'preprocessing.task'",),
                 id="tc-task-list"),
    pytest.param("text_classifier", _set("compile_config.optimizer.config.beta_1", "x"), ("compile config",),
                 id="tc-compile-config-not-a-number"),
    # sizes no weights could have: one line before anything is allocated (not an allocator RuntimeError)
    pytest.param("sequential", _set("config.config.layers.0.config.units", 10 ** 12), ("units: 1000000000000", "GiB"),
                 id="sequential-huge-dense-units"),
    pytest.param("sequential", _set("config.config.input_shape", [10 ** 12]), ("input features", "GiB"),
                 id="sequential-huge-input-shape"),
    pytest.param("text_classifier", _set("config.config.layers.0.config.input_dim", 10 ** 12), ("input_dim", "GiB"),
                 id="tc-huge-embedding-rows"),
    pytest.param("sentiment", _set("config.config.layers.0.config.output_dim", 10 ** 12), ("output_dim", "GiB"),
                 id="sentiment-huge-embedding-columns"),
    pytest.param("text_classifier", _set("preprocessing.vectorizer.vocabulary", None),
                 ("'preprocessing.vectorizer'", "no vocabulary"), id="tc-vectorizer-without-vocabulary"),
    pytest.param("sentiment", _set("preprocessing.vectorizer.vocabulary", None),
                 ("'preprocessing.vectorizer'", "no vocabulary"), id="sentiment-vectorizer-without-vocabulary"),
    pytest.param("sequence_classifier", _set("n_features", 5), ("n_features",), id="seq-n-features"),
    pytest.param("sequence_classifier", _set("classes", ["a", "b", "c"]), ("classes",), id="seq-more-classes"),
]


@pytest.mark.parametrize("kind, edit, needles", V1_CASES)
def test_edited_version_1_metadata_is_one_line_naming_the_field(files, tmp_path, kind, edit, needles):
    path = _v1(files, kind, tmp_path, edit)
    with pytest.raises(ModelFileError) as e:
        LOADERS[kind](path)
    _one_line_naming(e, path, *needles)


def test_lm_checkpoint_epoch_is_checked_by_the_engine_loader_too(files, tmp_path):
    path = _v1(files, "language_model_checkpoint", tmp_path, _set("training.position.epoch", -7))
    with pytest.raises(ModelFileError) as e:
        _load_checkpoint(path)
    _one_line_naming(e, path, "position.epoch", "-7")


# ------------------------------------------------------------------------------ saves never corrupt a file
def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_save_that_fails_leaves_the_existing_file_byte_identical(files, tmp_path):
    from lstmkit.errors import LstmkitError

    existing = tmp_path / "m.lstmkit"
    shutil.copyfile(files["sequential"], existing)
    before = _digest(existing)
    model = _load_sequential(existing)
    for bad in (tmp_path, tmp_path / "missing-folder" / "m.lstmkit"):  # a directory; a folder that is not there
        with pytest.raises(LstmkitError) as e:
            model.save(bad)
        assert "\n" not in str(e.value)
    assert _digest(existing) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lstmkit"]


def test_a_write_that_fails_part_way_leaves_the_file_it_replaces_byte_identical(files, tmp_path):
    """Saving over a file when the write itself fails (the file-size limit stands in for a full disk)."""
    resource = pytest.importorskip("resource")
    import signal

    existing = tmp_path / "m.lstmkit"
    shutil.copyfile(files["text_classifier"], existing)
    before = _digest(existing)
    model = _load_sequential(files["sequential"])  # another model, saved over it
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is then an OSError
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
        with pytest.raises(ModelFileError) as e:
            model.save(existing)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    _one_line_naming(e, existing, "could not be written")
    assert _digest(existing) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lstmkit"]  # no temporary file left behind
    _load_text_classifier(existing)
