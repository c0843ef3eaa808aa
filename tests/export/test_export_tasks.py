"""ONNX export of the Forecaster and the SequenceClassifier (lstmkit.export.tasks), checked with ONNX Runtime.

Every graph against its ``reference`` (lstmkit's own modules) on random feeds with random states, and
against the models' public API: ``Forecaster.predict`` / ``predict(window="all", stats_rows=)`` / the
stream, and ``SequenceClassifier.predict_proba`` on variable-length sequences, including a state
carried over two calls.
"""

from __future__ import annotations

import json
import warnings
from statistics import NormalDist

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pd = pytest.importorskip("pandas")

from lstmkit.errors import ConfigError  # noqa: E402
from lstmkit.export.tasks import export_task  # noqa: E402

TOL = 1e-5


def session(exported):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(exported.model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run(sess, feeds):
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def assert_matches_reference(exported, sess, feeds):
    got = sess.run(None, feeds)
    ref = exported.reference(feeds)
    assert len(got) == len(ref) == len(sess.get_outputs())
    for out, g, r in zip(sess.get_outputs(), got, ref):
        assert r.dtype == np.float32 and g.shape == r.shape, out.name
        np.testing.assert_allclose(g, r, atol=TOL, rtol=TOL, err_msg=out.name)


def assert_convention(exported, n_layers, lstm, extra_in, extra_out):
    """input, h0_k (c0_k), extras; output, hn_k (cn_k), extras; the metadata is JSON."""
    states = [f"{p}_{k}" for k in range(n_layers) for p in (("h0", "c0") if lstm else ("h0",))]
    outs = [f"{p}_{k}" for k in range(n_layers) for p in (("hn", "cn") if lstm else ("hn",))]
    assert [i.name for i in exported.model.graph.input] == ["input", *states, *extra_in]
    assert [o.name for o in exported.model.graph.output] == ["output", *outs, *extra_out]
    dims = exported.model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_param == "time"
    json.dumps(exported.metadata)


def zero_states(feeds):
    return {k: (np.zeros_like(v) if k[:3] in ("h0_", "c0_") else v) for k, v in feeds.items()}


# ------------------------------------------------------------------------------------------ forecaster
@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(3)
    n = 72
    t = np.arange(n)
    return pd.DataFrame(
        {"a": 5 + np.sin(t / 3) + rng.normal(0, 0.1, n), "b": 3 + np.cos(t / 5) + rng.normal(0, 0.1, n),
         "u": rng.normal(size=n)},
        index=pd.date_range("2021-01-01", periods=n, freq="h"),
    )


FORECASTERS = {
    "point": dict(targets=["a", "b"], segment=4),
    "quantile_covariate_2layers": dict(targets=["a", "b"], covariates=["u"], segment=4, intervals="quantile",
                                       instance_norm="mean", layers=2),
    "gaussian_autoregressive_log": dict(targets=["a", "b"], segment=2, intervals="gaussian", head="autoregressive",
                                        transform="log", instance_norm="mean"),
}


@pytest.fixture(scope="module")
def forecasters(series):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in FORECASTERS.items():
            fc = Forecaster(context=8, horizon=5, units=8, epochs=1, method="lstm", verbose=0, seed=1, **kw)
            out[name] = fc.fit(series)
    return out


def postprocess(meta, out):
    """``output`` (1, H, C, P) -> {"point", "lower", "upper"} (H, C) in data units, by the metadata alone."""
    out = out[0].astype(np.float64)
    C = len(meta["columns"]["targets"])
    if meta["output_type"] == "quantile":
        q = np.asarray(meta["quantiles"])
        res = {"point": out[..., int(np.argmin(np.abs(q - 0.5)))], "lower": out[..., 0], "upper": out[..., -1]}
    elif meta["output_type"] == "gaussian":
        z = NormalDist().inv_cdf(0.5 + meta["interval_level"] / 2)
        res = {"point": out[..., 0], "lower": out[..., 0] - z * out[..., 1], "upper": out[..., 0] + z * out[..., 1]}
    else:
        res = {"point": out[..., 0]}
    mean, scale = np.asarray(meta["scaler"]["mean"][:C]), np.asarray(meta["scaler"]["scale"][:C])
    kind, lambdas = meta["transform"]["kind"], meta["transform"]["lambdas"]
    done = {}
    for key, v in res.items():
        v = v * scale + mean
        if kind == "log":
            v = np.exp(v)
        elif kind == "boxcox":
            v = np.stack([np.exp(v[:, j]) if lam == 0 else np.maximum(lam * v[:, j] + 1, 1e-12) ** (1 / lam)
                          for j, lam in enumerate(lambdas)], axis=1)
        done[key] = np.where(np.asarray(meta["nonneg"]), np.maximum(v, 0.0), v)
    return done


def preprocess(meta, frame):
    """Rows in data units -> the graph's ``input`` rows, by the metadata alone."""
    cols = meta["columns"]["targets"] + meta["columns"]["covariates"]
    x = np.array(frame[cols].to_numpy(dtype=np.float64))
    C = len(meta["columns"]["targets"])
    if meta["transform"]["kind"] == "log":
        x[:, :C] = np.log(x[:, :C])
    return ((x - np.asarray(meta["scaler"]["mean"])) / np.asarray(meta["scaler"]["scale"])).astype(np.float32)


def first_call_feeds(exported, rows):
    feeds = zero_states(exported.sample_feeds(len(rows), rows.shape[1], 0))
    feeds["input"] = np.ascontiguousarray(rows, dtype=np.float32)
    feeds["loc"] = np.zeros_like(feeds["loc"])
    feeds["scale"] = np.zeros_like(feeds["scale"])
    return feeds


def frame_of(fc, result):
    cols = {}
    for j, name in enumerate(fc.targets_):
        cols[name] = result["point"][:, j]
        if "lower" in result:
            cols[f"{name}_lower"], cols[f"{name}_upper"] = result["lower"][:, j], result["upper"][:, j]
    return pd.DataFrame(cols)


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_forecaster_graph_matches_reference(forecasters, name):
    fc = forecasters[name]
    ex = export_task(fc)
    assert ex.kind == "forecaster" and ex.ragged_feeds is None
    assert_convention(ex, fc.network_.num_layers, True, ["loc", "scale"], ["loc_n", "scale_n"])
    sess = session(ex)
    for batch, length, seed in ((3, 8, 0), (1, 13, 1), (2, 2, 2)):
        feeds = ex.sample_feeds(batch, length, seed)
        assert feeds["input"].shape[1] % fc.segment_ == 0 and (feeds["scale"] == 0).any() and (feeds["scale"] > 0).any()
        assert_matches_reference(ex, sess, feeds)
    out = run(sess, ex.sample_feeds(2, 8, 0))["output"]
    assert out.shape == (2, 5, 2, {"point": 1, "quantile": 3, "gaussian": 2}[fc.network_.output])


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_forecaster_metadata_reproduces_predict(forecasters, series, name):
    """Data -> metadata preprocessing -> graph (zero state, window statistics) -> metadata postprocessing == predict."""
    fc = forecasters[name]
    ex = export_task(fc)
    rows = preprocess(ex.metadata, series.iloc[-8:])
    np.testing.assert_allclose(rows, fc._scaled(series.iloc[-8:]), atol=1e-6)
    out = run(session(ex), first_call_feeds(ex, rows[None]))["output"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = fc.predict(series)
    got = frame_of(fc, postprocess(ex.metadata, out))
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_forecaster_state_carried_over_two_calls(forecasters, series, name):
    """Window A from zero, then window B with A's hn/cn/loc_n/scale_n == the network over A + B with A's statistics."""
    fc = forecasters[name]
    net, C, L = fc.network_.eval(), len(fc.targets_), fc.network_.num_layers
    ex = export_task(fc)
    sess = session(ex)
    z = fc._scaled(series)
    a, b = z[-16:-8][None], z[-8:][None]
    first = run(sess, first_call_feeds(ex, a))
    feeds = {"input": b, "loc": first["loc_n"], "scale": first["scale_n"]}
    for k in range(L):
        feeds[f"h0_{k}"], feeds[f"c0_{k}"] = first[f"hn_{k}"], first[f"cn_{k}"]
    second = run(sess, feeds)

    both = torch.from_numpy(np.concatenate([a, b], axis=1))
    cov = both[..., C:] if fc.covariates_ else None
    with torch.no_grad():
        stats = net.instance_stats(torch.from_numpy(a[..., :C]), torch.from_numpy(a[..., C:]) if cov is not None else None)
        expected = net(both[..., :C], cov, stats=stats).numpy()
        (h, c), _ = net.encode(both[..., :C], cov, stats)
        first_expected = net(torch.from_numpy(a[..., :C]), torch.from_numpy(a[..., C:]) if cov is not None else None)
    np.testing.assert_allclose(first["output"], first_expected.numpy(), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(second["output"], expected, atol=TOL, rtol=TOL)
    for k in range(L):  # (1, batch * C, d) in the network, (1, batch, C * d) in the graph
        np.testing.assert_allclose(second[f"hn_{k}"], h[k : k + 1].reshape(1, 1, -1).numpy(), atol=TOL, rtol=TOL)
        np.testing.assert_allclose(second[f"cn_{k}"], c[k : k + 1].reshape(1, 1, -1).numpy(), atol=TOL, rtol=TOL)
    np.testing.assert_array_equal(second["loc_n"], first["loc_n"])

    # ... which is the forecaster's own predict(window="all", stats_rows=) and its stream
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = series.iloc[-16:]
        via_predict = fc.predict(rows, window="all", stats_rows=8)
        stream = fc.stream(rows.iloc[:8])
        for _, row in rows.iloc[8:].iterrows():
            stream.update(row)
        via_stream = stream.forecast()
    got = frame_of(fc, postprocess(ex.metadata, second["output"])).to_numpy()
    np.testing.assert_allclose(got, via_predict.to_numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, via_stream.to_numpy(), rtol=1e-4, atol=1e-4)


NETWORKS = [
    dict(head="autoregressive", output="quantile", segment=1, num_layers=2, instance_norm="last"),
    dict(head="autoregressive", output="point", segment=3, instance_norm="none"),
    dict(head="direct", output="gaussian", segment=2, n_covariates=2, instance_norm="none", num_layers=2),
    dict(head="direct", output="quantile", segment=5, n_covariates=1, instance_norm="last"),
]


@pytest.mark.parametrize("config", NETWORKS, ids=lambda c: f"{c['head']}-{c['output']}-S{c['segment']}")
def test_forecast_network_graph(config):
    """Bare networks (every head and output, covariates, stacked layers, H not a multiple of S)."""
    from lstmkit.tasks.timeseries.network import LSTMForecastNetwork

    net = LSTMForecastNetwork(3, 7, hidden_size=6, quantiles=(0.2, 0.5, 0.7), **config).eval()
    ex = export_task(net)
    sess = session(ex)
    for batch, length, seed in ((2, 10, 0), (1, 3, 1)):
        assert_matches_reference(ex, sess, ex.sample_feeds(batch, length, seed))
    # chained: two windows == the network over both with the first one's statistics
    S, F, C = net.segment, 3 + net.n_covariates, 3
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 2 * S, F)).astype(np.float32)
    b = rng.normal(size=(2, 3 * S, F)).astype(np.float32)
    first = run(sess, first_call_feeds(ex, a))
    feeds = {"input": b, "loc": first["loc_n"], "scale": first["scale_n"]}
    for k in range(net.num_layers):
        feeds[f"h0_{k}"], feeds[f"c0_{k}"] = first[f"hn_{k}"], first[f"cn_{k}"]
    second = run(sess, feeds)
    ta, tb = torch.from_numpy(a), torch.from_numpy(np.concatenate([a, b], axis=1))
    with torch.no_grad():
        cov_a, cov = (ta[..., C:], tb[..., C:]) if net.n_covariates else (None, None)
        expected = net(tb[..., :C], cov, stats=net.instance_stats(ta[..., :C], cov_a)).numpy()
    np.testing.assert_allclose(second["output"], expected, atol=TOL, rtol=TOL)


def test_forecaster_refusals(series):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    naive = Forecaster(context=8, horizon=5, method="seasonal_naive", verbose=0, targets=["a"]).fit(series)
    with pytest.raises(ConfigError, match=r"method 'seasonal_naive'.*no recurrent network.*method='lstm'") as e:
        export_task(naive)
    assert "\n" not in str(e.value)
    for method, why in (("ets", "a statistical method"), ("ensemble", r"the LSTM averaged with ETS")):
        fitted = Forecaster()
        fitted.method_ = method  # as fit() leaves it (fitting ETS here would only cost time)
        with pytest.raises(ConfigError, match=rf"method '{method}'\W+{why}.*export needs a forecaster fitted with "
                                              r"method='lstm'"):
            export_task(fitted)
    with pytest.raises(ConfigError, match="not fitted"):
        export_task(Forecaster())
    with pytest.raises(ConfigError, match="not fitted"):
        export_task(SequenceClassifier())
    with pytest.raises(ConfigError, match="expected a fitted Forecaster or SequenceClassifier, found dict"):
        export_task({})


# ------------------------------------------------------------------------------------------ classifier
@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    X = [(rng.normal(size=(int(rng.integers(4, 13)), 3)) * [3, 1, 0.5] + [1, -2, 0]).astype(np.float32)
         for _ in range(18)]
    return X, [("up", "down", "flat")[i % 3] for i in range(18)]


CLASSIFIERS = {
    "lstm-last": dict(model="lstm", pooling="last"),
    "lstm-mean-2layers-bidirectional": dict(model="lstm", pooling="mean", layers=2, bidirectional=True),
    "lstm-attention": dict(model="lstm", pooling="attention", normalize="series"),
    "gru-attention-bidirectional": dict(model="lstm", cell="gru", pooling="attention", bidirectional=True),
    "rnn-last-2layers": dict(model="lstm", cell="rnn", pooling="last", layers=2, normalize="none"),
    "lstm_fcn-mean-ensemble-paa-series": dict(model="lstm_fcn", filters=(4, 6, 4), kernel_sizes=(3, 2, 1), downsample=2,
                                              normalize="series", ensemble=2, pooling="mean"),
    "alstm_fcn-bidirectional-feature": dict(model="alstm_fcn", filters=(4, 5), kernel_sizes=(4, 3), bidirectional=True,
                                            normalize="feature"),
}


@pytest.fixture(scope="module")
def classifiers(sequences):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    X, y = sequences
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in CLASSIFIERS.items():
            out[name] = SequenceClassifier(units=5, epochs=1, batch_size=8, verbose=0, selection="none", **kw).fit(X, y)
    return out


def padded(seqs, T=None):
    T = T or max(len(s) for s in seqs)
    x = np.random.default_rng(9).normal(size=(len(seqs), T, seqs[0].shape[1])).astype(np.float32) * 100  # junk padding
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return x, np.array([len(s) for s in seqs], dtype=np.int64)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier_graph_matches_reference_and_predict_proba(classifiers, sequences, name):
    clf = classifiers[name]
    ex = export_task(clf)
    lstm = clf.settings_["cell"] == "lstm"
    assert ex.kind == "sequence_classifier"
    assert_convention(ex, clf.settings_["layers"] * len(clf.nets_), lstm, ["lengths"], [])
    assert ex.metadata["classes"] == clf.classes_
    sess = session(ex)
    for feeds in (ex.sample_feeds(3, 9, 0), ex.sample_feeds(2, 1, 1), ex.ragged_feeds(2)):
        assert_matches_reference(ex, sess, feeds)
    assert len(set(ex.ragged_feeds(0)["lengths"].tolist())) > 1

    # raw variable-length sequences (junk padding), zero states == predict_proba
    X, _ = sequences
    x, lengths = padded(X[:7], T=14)
    feeds = zero_states(ex.sample_feeds(7, 14, 0))
    feeds.update(input=x, lengths=lengths)
    probs = run(sess, feeds)["output"]
    np.testing.assert_allclose(probs, clf.predict_proba(X[:7]), atol=TOL, rtol=TOL)


def test_classifier_state_carried_over_two_calls(classifiers, sequences):
    """pooling='last', one direction: call 1 on A (ragged), call 2 on B with A's state == predict_proba(A + B)."""
    clf = classifiers["lstm-last"]
    ex = export_task(clf)
    sess = session(ex)
    X, _ = sequences
    a = [X[0][:6], X[1][:3], X[2][:1]]
    b = [X[3][:5], X[4][:4], X[5][:2]]
    xa, la = padded(a)
    first = run(sess, {"input": xa, "lengths": la, "h0_0": np.zeros((1, 3, 5), np.float32),
                       "c0_0": np.zeros((1, 3, 5), np.float32)})
    xb, lb = padded(b, T=7)
    second = run(sess, {"input": xb, "lengths": lb, "h0_0": first["hn_0"], "c0_0": first["cn_0"]})
    both = [np.concatenate([p, q]) for p, q in zip(a, b)]
    np.testing.assert_allclose(second["output"], clf.predict_proba(both), atol=TOL, rtol=TOL)
    with torch.no_grad():
        from lstmkit.tasks.sequences.classifier import pad_batch

        xt, lt = pad_batch(clf._transform(both), [0, 1, 2])
        _, (h, c) = clf.net_.eval().rnn(xt, lengths=lt)
    np.testing.assert_allclose(second["hn_0"], h.numpy(), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(second["cn_0"], c.numpy(), atol=TOL, rtol=TOL)

    # a row with no new step keeps its state (lstmkit's length-0 rule; ONNX Runtime alone would give zeros)
    feeds = {"input": xb[:, :2], "lengths": np.array([2, 0, 1]), "h0_0": second["hn_0"], "c0_0": second["cn_0"]}
    third = run(sess, feeds)
    np.testing.assert_array_equal(third["hn_0"][:, 1], second["hn_0"][:, 1])
    np.testing.assert_array_equal(third["cn_0"][:, 1], second["cn_0"][:, 1])
    assert_matches_reference(ex, sess, feeds)


@pytest.mark.parametrize("opset", [13, 18])
def test_other_opsets(forecasters, classifiers, opset):
    """The reductions' axes move from attribute to input at opset 18; both forms are written."""
    for exported in (export_task(forecasters["quantile_covariate_2layers"], opset=opset),
                     export_task(classifiers["lstm_fcn-mean-ensemble-paa-series"], opset=opset)):
        assert exported.model.opset_import[0].version == opset
        sess = session(exported)
        assert_matches_reference(exported, sess, exported.sample_feeds(2, 6, 0))
    with pytest.raises(ConfigError, match="opset"):
        export_task(classifiers["lstm-last"], opset=12)


# ------------------------------------------------------------------ files, through to_onnx and load_onnx
def test_forecaster_and_classifier_files_run_from_load_onnx(forecasters, series, classifiers, sequences, tmp_path):
    """lstmkit.export.to_onnx writes both kinds; load_onnx runs them with the sidecar's input defaults
    (loc/scale: the window's own statistics; lengths: the full length) and carries the state, the
    forecaster's statistics included, from one call to the next."""
    from lstmkit.export import load_onnx, to_onnx

    fc = forecasters["point"]
    path = to_onnx(fc, tmp_path / "fc.onnx")
    runner = load_onnx(path)
    ex = export_task(fc)
    rows = np.asarray(ex.sample_feeds(2, 16, 5)["input"], np.float32)
    sess = session(ex)
    feeds = {i.name: np.zeros([2 if not isinstance(d, int) else d for d in i.shape], np.float32)
             for i in sess.get_inputs() if i.name != "input"}
    feeds["input"] = rows[:, :8]
    want1 = run(sess, feeds)
    out1, state = runner.run(rows[:, :8])
    np.testing.assert_allclose(out1, want1["output"], atol=1e-6)
    assert {"loc", "scale"} <= set(state)
    out2, _ = runner.run(rows[:, 8:], state)
    carried = {**{k: want1[k[0] + "n_" + k[3:]] for k in feeds if k[:3] in ("h0_", "c0_")},
               "loc": want1["loc_n"], "scale": want1["scale_n"], "input": rows[:, 8:]}
    np.testing.assert_allclose(out2, run(sess, carried)["output"], atol=1e-6)

    clf = classifiers["lstm-last"]
    runner = load_onnx(to_onnx(clf, tmp_path / "clf.onnx"))
    X, _ = sequences
    x = np.stack([X[0][:4], X[1][:4]])
    probs, _ = runner.run(x)
    np.testing.assert_allclose(probs, clf.predict_proba([X[0][:4], X[1][:4]]), atol=1e-5)
    short, _ = runner.run(x, lengths=np.array([4, 2]))
    np.testing.assert_allclose(short[1], clf.predict_proba([X[1][:2]])[0], atol=1e-5)
