"""ONNX export of Keras-style models, text classifiers and language models: parity with lstmkit to 1e-5.

Each model goes through :func:`lstmkit.export.core.check_exported` (sample batches from random states,
one step, a batch padded every way, a state carried over two calls) and through explicit checks of
the same properties, so a wrong graph cannot hide behind the checker.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from lstmkit.errors import ConfigError, LstmkitError, LstmkitWarning  # noqa: E402
from lstmkit.export import onnx_graph  # noqa: E402
from lstmkit.export.core import (ExportCheckError, check_exported, export_model, make_session, to_onnx,  # noqa: E402
                                 write_onnx)
from lstmkit.layers import (GRU, LSTM, AttentionPooling, Bidirectional, Dense, Dropout, Embedding,  # noqa: E402
                            GlobalAveragePooling1D, GlobalMaxPooling1D, Input, SimpleRNN)
from lstmkit.models import Sequential  # noqa: E402

TOL = 1e-5


def _jitter(model, scale=0.2, seed=0):
    """Non-zero biases and less regular weights than the initialisers give (a trained model's look)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


def _run(session, feeds):
    names = [i.name for i in session.get_inputs()]
    outs = session.run(None, {k: v for k, v in feeds.items() if k in names})
    return dict(zip([o.name for o in session.get_outputs()], outs))


def _close(a, b, tol=TOL):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))), float(np.abs(a - b).max())


MODELS = {
    "lstm": lambda: Sequential([Input((None, 3)), LSTM(5)]),
    "gru": lambda: Sequential([Input((None, 3)), GRU(5, return_sequences=True), Dense(2, activation="tanh")]),
    "simple_rnn": lambda: Sequential([Input((None, 3)), SimpleRNN(5), Dense(3, activation="softmax")]),
    "stacked": lambda: Sequential([Input((None, 3)), LSTM(6, return_sequences=True), GRU(4, return_sequences=True),
                                   SimpleRNN(3), Dense(1, activation="sigmoid")]),
    "go_backwards": lambda: Sequential([Input((None, 3)), LSTM(4, go_backwards=True, return_sequences=True),
                                        GRU(3, go_backwards=True)]),
    "bidirectional": lambda: Sequential([Input((None, 3)), Bidirectional(LSTM(4, return_sequences=True)),
                                         Bidirectional(GRU(3, return_sequences=True), merge_mode="sum"),
                                         Bidirectional(SimpleRNN(2), merge_mode="mul"), Dense(2, activation="relu")]),
    "bidi_ave": lambda: Sequential([Input((None, 2)), Bidirectional(LSTM(3), merge_mode="ave")]),
    "dense_activations": lambda: Sequential([Input((None, 3)), Dense(4, activation="gelu"), LSTM(4, return_sequences=True),
                                             Dense(4, activation="selu"), Dropout(0.5), Dense(3, activation="log_softmax")]),
    "no_bias_pools": lambda: Sequential([Input((None, 3)), LSTM(4, use_bias=False, return_sequences=True),
                                         GRU(4, use_bias=False, return_sequences=True),
                                         SimpleRNN(4, use_bias=False, return_sequences=True), AttentionPooling(3),
                                         Dense(2, use_bias=False)]),
    "pools_unmasked": lambda: Sequential([Embedding(30, 6), Bidirectional(LSTM(4, return_sequences=True)),
                                          GlobalMaxPooling1D(), Dense(2, activation="softmax")]),
    "article": lambda: Sequential([Embedding(50, 8, input_length=12), LSTM(6), Dense(1, activation="sigmoid")]),
    "mask_last": lambda: Sequential([Embedding(30, 6, mask_zero=True), LSTM(5), Dense(2, activation="softmax")]),
    "mask_sequences": lambda: Sequential([Embedding(30, 6, mask_zero=True), LSTM(5, return_sequences=True),
                                          LSTM(4, go_backwards=True, return_sequences=True), Dense(2)]),
    "mask_bidi_max": lambda: Sequential([Embedding(30, 6, mask_zero=True), Bidirectional(LSTM(4, return_sequences=True)),
                                         GlobalMaxPooling1D(), Dense(3, activation="softmax")]),
    "mask_bidi_attention": lambda: Sequential([Embedding(30, 6, mask_zero=True),
                                               Bidirectional(GRU(4, return_sequences=True), merge_mode="ave"),
                                               AttentionPooling(5), Dropout(0.3), Dense(2, activation="softmax")]),
    "mask_mean": lambda: Sequential([Embedding(30, 6, mask_zero=True), SimpleRNN(4, return_sequences=True),
                                     GlobalAveragePooling1D(), Dense(2, activation="softmax")]),
    "mask_bidi_last": lambda: Sequential([Embedding(30, 6, mask_zero=True), Bidirectional(LSTM(4)), Dense(2)]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parity_to_1e5(name):
    model = _jitter(MODELS[name]())
    exported = export_model(model)
    session = make_session(exported.model)
    worst, cases = check_exported(exported, session)
    assert worst <= TOL
    assert "state carried over two calls" in cases
    assert ("padded batch of unequal lengths" in cases) == name.startswith("mask")
    # the conventions: input first, states in order, output first, dynamic batch and time
    inputs = [i.name for i in exported.model.graph.input]
    outputs = [o.name for o in exported.model.graph.output]
    assert inputs[0] == "input" and outputs[0] == "output"
    assert [n.replace("0_", "n_") for n in inputs[1:]] == outputs[1:]
    dims = exported.model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_param == "time"
    # and the model's own predict (zero state, no initial_state path) agrees with zero states in the graph
    feeds = exported.sample_feeds(4, 9, 5)
    zero = {k: (np.zeros_like(v) if k != "input" else v) for k, v in feeds.items()}
    _close(_run(session, zero)["output"], model.predict(feeds["input"], verbose=0))


def test_gate_orders_are_checked():
    """The check would catch a wrong gate order (it is not vacuous)."""
    model = _jitter(MODELS["lstm"]())
    orig = onnx_graph.LSTM_ORDER
    try:
        onnx_graph.LSTM_ORDER = (0, 1, 2, 3)  # PyTorch's order, unconverted
        exported = export_model(model)
        with pytest.raises(ExportCheckError, match=r"output 'output' differs from lstmkit at index \[\d+, \d+\] by"):
            check_exported(exported, make_session(exported.model))
    finally:
        onnx_graph.LSTM_ORDER = orig


@pytest.mark.parametrize("name", ["mask_last", "mask_bidi_max", "mask_bidi_attention", "mask_sequences"])
def test_padding_anywhere_matches_lstmkit(name):
    """Pre-padding, post-padding and holes: the graph equals lstmkit, and a row's output does not depend on
    how it is padded (the last-output and pooled models) -- all-padding rows included."""
    model = _jitter(MODELS[name]())
    exported = export_model(model)
    session = make_session(exported.model)
    rng = np.random.default_rng(1)
    tokens = [rng.integers(1, 30, size=n) for n in (5, 2, 7, 1)]
    T = 9
    post = np.zeros((4, T), np.int64)
    pre = np.zeros((4, T), np.int64)
    for i, t in enumerate(tokens):
        post[i, : len(t)] = t
        pre[i, T - len(t):] = t
    empty = np.zeros((1, T), np.int64)
    for ids in (post, pre, empty):
        zero = exported.sample_feeds(ids.shape[0], T, 0)
        zero = {k: (np.zeros_like(v) if k != "input" else ids) for k, v in zero.items()}
        _close(_run(session, zero)["output"], model.predict(ids, verbose=0))
    if name != "mask_sequences":  # per-step outputs move with the padding; pooled/last ones do not
        zp = {k: np.zeros_like(v) for k, v in exported.sample_feeds(4, T, 0).items() if k != "input"}
        _close(_run(session, {**zp, "input": post})["output"], _run(session, {**zp, "input": pre})["output"])
    ragged = exported.ragged_feeds(7)
    got = _run(session, ragged)
    for name_, want in zip([o.name for o in session.get_outputs()], exported.reference(ragged)):
        _close(got[name_], want)


@pytest.mark.parametrize("name", ["lstm", "stacked", "go_backwards", "article", "mask_last"])
def test_state_carried_over_two_calls_equals_one_call(name):
    """hn/cn of call 1 fed as h0/c0 of call 2 give the output of one call on the concatenation (forward
    models; a go_backwards layer reads each call from its end, so there it equals lstmkit given that state)."""
    model = _jitter(MODELS[name]())
    exported = export_model(model)
    session = make_session(exported.model)
    fixed = model.input_shape[1]
    if fixed:  # input_length=12: lstmkit runs 12 steps only, so two calls of 12
        full = exported.sample_feeds(3, 0, 11)
        full["input"] = np.concatenate([full["input"], exported.sample_feeds(3, 0, 12)["input"]], axis=1)
        T1 = fixed
    else:
        full, T1 = exported.sample_feeds(3, 10, 11), 4
    zeros = {k: np.zeros_like(v) for k, v in full.items() if k != "input"}
    first = _run(session, {**zeros, "input": full["input"][:, :T1]})
    state = {k: first[k.replace("0_", "n_")] for k in zeros}
    second = _run(session, {**state, "input": full["input"][:, T1:]})
    if name == "go_backwards" or fixed:  # lstmkit given call 1's state (a go_backwards layer reads from the end)
        _close(second["output"], exported.reference({**state, "input": full["input"][:, T1:]})[0])
    else:
        _close(second["output"], model.predict(full["input"], verbose=0))
        one = _run(session, {**zeros, "input": full["input"]})
        for k in zeros:
            _close(second[k.replace("0_", "n_")], one[k.replace("0_", "n_")])


def test_unsupported_models_are_one_line_errors():
    with pytest.raises(ConfigError, match="has no recurrent layer"):
        export_model(Sequential([Input((4,)), Dense(3), Dense(1)]))
    with pytest.raises(ConfigError, match="cannot export a dict"):
        export_model({"not": "a model"})
    with pytest.raises(ConfigError, match=r"opset: 12 is too old; the exported graphs need opset 13 or newer"):
        export_model(MODELS["lstm"](), opset=12)
    with pytest.raises(ConfigError, match="not built"):
        export_model(Sequential([LSTM(3)]))
    for err in (ConfigError,):
        assert issubclass(err, LstmkitError)


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_opsets(opset):
    model = _jitter(MODELS["mask_bidi_max"]())
    exported = export_model(model, opset)
    assert exported.model.opset_import[0].version == opset
    assert check_exported(exported, make_session(exported.model))[0] <= TOL


def test_files_metadata_and_atomic_failure(tmp_path):
    model = _jitter(MODELS["article"]())
    path = tmp_path / "article.onnx"
    result = write_onnx(model, path)
    import onnx

    loaded = onnx.load(str(path))
    props = {p.key: p.value for p in loaded.metadata_props}
    assert props["format"] == "lstmkit-onnx" and props["kind"] == "sequential"
    assert json.loads(props["int8"]) is False and json.loads(props["check"])["max_abs_diff"] <= TOL
    side = json.loads((tmp_path / "article.onnx.json").read_text())
    import hashlib

    assert side["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert side["input_length"] == 12 and side["inputs"][0] == {"name": "input", "dtype": "int64", "shape": ["batch", "time"]}
    assert result.max_diff <= TOL and len(result.cases) == 3
    # a failing check writes nothing and leaves the existing files as they were
    before, side_before = path.read_bytes(), (tmp_path / "article.onnx.json").read_bytes()
    orig = onnx_graph.LSTM_ORDER
    try:
        onnx_graph.LSTM_ORDER = (0, 1, 2, 3)
        with pytest.raises(ExportCheckError, match="nothing was written"):
            to_onnx(model, path)
        with pytest.raises(ExportCheckError):
            to_onnx(model, tmp_path / "new.onnx")
    finally:
        onnx_graph.LSTM_ORDER = orig
    assert path.read_bytes() == before and (tmp_path / "article.onnx.json").read_bytes() == side_before
    assert not (tmp_path / "new.onnx").exists() and not (tmp_path / "new.onnx.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["article.onnx", "article.onnx.json"]  # no temp files left


def test_int8_export_is_checked_and_reported(tmp_path):
    torch.manual_seed(3)
    model = Sequential([Embedding(200, 16, mask_zero=True), LSTM(16), Dense(2, activation="softmax")])
    result = write_onnx(model, tmp_path / "m.int8.onnx", int8=True)
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "m.int8.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "MatMulInteger" in ops
    assert result.int8 and 0 < result.int8_max_diff < 0.05
    side = json.loads((tmp_path / "m.int8.onnx.json").read_text())
    assert side["int8"] is True and side["int8_check"]["max_abs_diff"] == result.int8_max_diff


# ------------------------------------------------------------------------------------------------ task models
def _tiny_classifier():
    from lstmkit.tasks.text.classifier import TextClassifier

    texts = ["a good film", "great acting, good story", "bad plot", "awful and bad", "good good", "so bad"] * 3
    labels = ["pos", "pos", "neg", "neg", "pos", "neg"] * 3
    clf = TextClassifier(units=4, embedding_dim=6, epochs=1, batch_size=6, max_length=6, pooling="attention",
                         bidirectional=True, valid_fraction=0, verbose=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        return clf.fit(texts, labels)


def test_text_classifier_export_and_metadata(tmp_path):
    clf = _tiny_classifier()
    path = to_onnx(clf, tmp_path / "clf.onnx")
    side = json.loads((tmp_path / "clf.onnx.json").read_text())
    assert side["kind"] == "text_classifier" and side["classes"] == list(clf.classes_)
    pre = side["preprocessing"]
    assert pre["vocabulary"][:2] == ["", "[UNK]"] and pre["max_length"] == 6 and pre["truncation"] == "pre"
    assert pre["standardize"] == "lower_and_strip_punctuation" and "[^\\w\\s]|_" in pre["standardize_rule"]
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["preprocessing"]) == pre and json.loads(props["classes"]) == list(clf.classes_)
    # a non-Python user's recipe, followed by hand, gives TextClassifier's probabilities
    import re

    texts = ["A good, GOOD film!", "bad", "an unseen word here and there so long", ""]
    vocab = {t: i for i, t in enumerate(pre["vocabulary"])}
    rows = []
    for t in texts:
        ids = [vocab.get(tok, 1) for tok in re.sub(r"[^\w\s]|_", "", t.lower()).split()]
        rows.append(ids[-pre["max_length"]:] or [0])
    width = max(map(len, rows))
    ids = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r  # pre-padding: the mask makes it irrelevant
    from lstmkit.export.runtime import load_onnx

    probs, state = load_onnx(path).run(ids)
    _close(probs, clf.predict_proba(texts))
    assert set(state) == {"h0_0", "c0_0"} and state["h0_0"].shape == (2, 4, 4)


def _tiny_generator(embedding_size=6, hidden=6, layers=2):
    from lstmkit.data.corpus import Vocabulary, tokenize
    from lstmkit.tasks.text.language_model import LanguageModelGenerator
    from lstmkit.tasks.text.lm_network import LanguageModel

    torch.manual_seed(0)
    vocab = Vocabulary.build(tokenize("to be or not to be\nthat is the question\n", "word"), "word")
    net = LanguageModel(len(vocab), embedding_size=embedding_size, hidden_size=hidden, num_layers=layers)
    return LanguageModelGenerator(_jitter(net), vocab)


@pytest.mark.parametrize("embedding_size", [6, 4])  # 4 < hidden: a tied LSTMP (projection, a Scan in the graph)
def test_language_model_export_and_stepping(tmp_path, embedding_size):
    gen = _tiny_generator(embedding_size=embedding_size)
    path = to_onnx(gen, tmp_path / "lm.onnx")
    side = json.loads((tmp_path / "lm.onnx.json").read_text())
    assert side["kind"] == "language_model" and side["vocabulary"]["tokens"] == gen.vocab.itos
    assert side["vocabulary"]["level"] == "word" and side["vocabulary"]["eos_token"] == "<eos>"
    from lstmkit.export.runtime import load_onnx

    m = load_onnx(path)
    ids = np.array([gen.vocab.encode("to be or not".split())], np.int64)
    logits, state = m.run(ids)
    with torch.no_grad():
        want, _ = gen.model(torch.from_numpy(ids).t())
    _close(logits, want.transpose(0, 1).numpy())
    # token by token with the state fed back: the same logits as the whole sequence at once
    state = None
    for t in range(ids.shape[1]):
        step, state = m.run(ids[:, t:t + 1], state)
        _close(step[:, 0], logits[:, t])
    if embedding_size < 6:
        assert state["h0_0"].shape == (1, 1, 4) and state["c0_0"].shape == (1, 1, 6)


def test_sentiment_model_export(tmp_path):
    """The sentiment demo's model (the article's: no mask, each text run at its own length)."""
    from lstmkit.data.text import TextVectorizer
    from lstmkit.tasks.text.sentiment import SentimentClassifier

    vec = TextVectorizer(max_tokens=50, output_sequence_length=10).fit(["a good film", "a bad film", "good or bad"])
    torch.manual_seed(0)
    model = Sequential([Embedding(50, 8, input_length=10), LSTM(6), Dense(2, activation="softmax")])
    result = write_onnx(SentimentClassifier(model, vec), tmp_path / "s.onnx")
    side = json.loads((tmp_path / "s.onnx.json").read_text())
    assert result.kind == "sentiment" and side["classes"] == ["negative", "positive"]
    assert side["preprocessing"]["max_length"] == 10 and side["preprocessing"]["padding"].startswith("do not pad")
    assert result.cases[:2] == ["3 sequences of 10 steps", "1 sequence of 10 steps"]


def test_docstring_examples():
    import doctest

    result = doctest.testmod(onnx_graph, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0 and result.attempted > 0
