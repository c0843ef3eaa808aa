"""A forecaster file's metadata, checked against its schema and its weights before use.

Files of format version 1 carry no metadata checksum (version 2 covers every field), so an edited
header must be caught here: the network config must rebuild exactly the stored weights, and the
hyper-parameters, the column lists and the scaler must agree with that network. Every mismatch is
one :class:`~lstmkit.errors.ModelFileError` line naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lstmkit.errors import ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.tasks.timeseries.forecaster import Forecaster


def auto_segment(context: int) -> int:
    """The default segment length: the largest divisor of ``context`` that is at most ``context // 7``."""
    limit = max(1, context // 7)
    return max(s for s in range(1, limit + 1) if context % s == 0)



def load_checked(cls: "type[Forecaster]", path: Any, tensors: dict[str, Any], meta: dict[str, str]) -> "Forecaster":
    """A Forecaster from a file's tensors and metadata, each field checked against its schema and the weights.

    Files of format version 1 carry no metadata checksum, so an edited header is caught here: the
    network config must rebuild exactly the stored weights, and the hyper-parameters (context,
    horizon, segment, units, layers), the column lists and the scaler must agree with that network.
    A file without ``method`` (written before it existed) is an LSTM forecaster; a file whose method
    needs no network (ETS, seasonal naive) may have none.
    """
    from lstmkit.tasks.timeseries.local import AutoETS, Transform
    from lstmkit.tasks.timeseries.selection import CANDIDATES, Selection
    from lstmkit.util.advice import Advice, Choice
    from lstmkit.util.schema import FileSchema

    s = FileSchema(path)
    params = s.json(meta, "params", dict)
    method_info = s.json(meta, "method", dict, default={"method": "lstm"})
    method = method_info.get("method") or "lstm"
    if method not in CANDIDATES:
        s.fail("method.method", f"one of {', '.join(CANDIDATES)}", repr(method))
    members = method_info.get("members") or [method]
    if not isinstance(members, list) or not all(m in CANDIDATES for m in members):
        s.fail("method.members", "a list of methods", repr(members)[:60])
    has_network = "network" in meta or tensors
    if not has_network and "lstm" in members:
        s.fail("network", f"an LSTM network for method {method!r}", "none")
    columns = s.keys(s.json(meta, "columns", dict), ("targets", "covariates"), "columns")
    index = s.keys(s.json(meta, "index", dict), ("name", "freq", "last_fit"), "index")
    training = s.json(meta, "training", dict, default={})
    targets = s.str_list(columns["targets"], "columns.targets", min_len=1)
    covariates = s.str_list(columns["covariates"], "columns.covariates")
    if set(targets) & set(covariates):
        s.fail("columns", "targets and covariates without a shared name", sorted(set(targets) & set(covariates))[0])
    # Keys this version does not know are ignored (a later version may add parameters).
    # Files written before issue 15 say "lr" (now "learning_rate").
    for old, new in cls._ALIASES.items():
        if old in params:
            params.setdefault(new, params.pop(old))
    params = {k: v for k, v in params.items() if k in cls._PARAMS}
    params.setdefault("method", "lstm")  # files from before method= existed
    horizon = s.int_in(params, "horizon", "params", low=1)
    network = None
    if has_network:
        network = _checked_network(s, params, meta, tensors, targets, covariates, horizon)
    try:
        obj = cls(**params)
        obj._check_params()
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"model file {str(path)!r}: invalid forecaster metadata ({' '.join(str(e).split())[:200]})") from None
    if network is not None:
        from lstmkit.data.timeseries import StandardScaler

        try:
            obj.scaler_ = StandardScaler.from_config(s.json(meta, "scaler", dict))
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"model file {str(path)!r}: invalid forecaster metadata ({' '.join(str(e).split())[:200]})") from None
        network.load_state_dict(tensors)
        obj.network_ = network
        obj.context_, obj.segment_ = int(params["context"]), int(network.segment)
    obj.horizon_ = horizon
    for name in ("batch_size", "epochs", "patience"):
        if isinstance(params.get(name), int):
            setattr(obj, f"{name}_", int(params[name]))
    obj.targets_, obj.covariates_ = list(targets), list(covariates)
    for key in ("freq", "last_fit"):
        if index[key] is not None and not isinstance(index[key], str):
            s.fail(f"index.{key}", "a string or null", type(index[key]).__name__)
    obj.index_name_, obj.freq_, obj.last_fit_label_ = index["name"], index["freq"], index["last_fit"]
    history = training.get("history") or {}
    obj.history_ = s.obj(history, "training.history")
    obj.best_epoch_ = s.int_in(training, "best_epoch", "training", low=0, optional=True)
    obj.valid_mse_ = s.number_in(training, "valid_mse", "training", optional=True)
    obj.fit_seconds_ = s.number_in(training, "fit_seconds", "training", low=0, optional=True)
    obj.train_windows_ = s.int_in(training, "train_windows", "training", low=0, optional=True)
    obj.refit_epochs_ = s.int_in(training, "refit_epochs", "training", low=1, optional=True)
    obj.method_, obj._members = method, list(members)
    try:
        season = method_info.get("season")
        obj.season_value_ = int(season) if season is not None else None
        sel = method_info.get("selection")
        obj.selection_ = None if sel is None else Selection.from_json(sel)
        ets = method_info.get("ets")
        obj.ets_ = None if ets is None else [AutoETS.from_json(e) for e in ets]
        obj.ets_start_ = method_info.get("ets_start")
        transform = method_info.get("transform")
        obj.transform_ = Transform() if transform is None else Transform.from_json(transform)
        obj.nonneg_ = [bool(v) for v in method_info.get("nonneg", [])]
        advice = s.json(meta, "advice", dict, default={"choices": [], "warnings": []})
        obj.advice_ = Advice(echo=None, choices=[Choice(c["name"], c["value"], c["reason"]) for c in advice.get("choices", [])],
                             warnings=[str(w) for w in advice.get("warnings", [])])
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ModelFileError(f"model file {str(path)!r}: invalid metadata field 'method' or 'advice' "
                             f"({' '.join(str(e).split())[:160]})") from None
    if ("ets" in members) and (obj.ets_ is None or len(obj.ets_) != len(targets)):
        s.fail("method.ets", f"{len(targets)} ETS models (one per target)", "none" if obj.ets_ is None else len(obj.ets_))
    if obj.transform_.kind == "boxcox" and len(obj.transform_.lambdas) != len(targets):
        s.fail("method.transform", f"{len(targets)} Box-Cox lambdas", len(obj.transform_.lambdas))
    return obj


def _checked_network(s: Any, params: dict[str, Any], meta: dict[str, str], tensors: dict[str, Any],
                     targets: list[str], covariates: list[str], horizon: int) -> Any:
    """The network the metadata describes, checked against the weights and the hyper-parameters."""
    from lstmkit.tasks.timeseries.network import LSTMForecastNetwork

    net_cfg = s.keys(s.json(meta, "network", dict), ("n_targets", "horizon", "n_covariates", "segment",
                                                     "hidden_size", "num_layers"), "network")
    scaler_cfg = s.keys(s.json(meta, "scaler", dict), ("mean", "scale"), "scaler")
    for key in ("n_targets", "horizon", "segment", "hidden_size", "num_layers"):
        s.int_in(net_cfg, key, "network", low=1)
    s.int_in(net_cfg, "n_covariates", "network", low=0)
    s.recurrent_layers(tensors, "lstm.", "network.num_layers", net_cfg["num_layers"])
    context = s.int_in(params, "context", "params", low=1)
    for key in ("units", "layers"):
        s.int_in(params, key, "params", low=1)
    s.int_in(params, "segment", "params", low=1, optional=True)
    try:
        network = LSTMForecastNetwork(**net_cfg)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"model file {s.path!r}: metadata field 'network' does not build a forecasting network "
                             f"({' '.join(str(e).split())[:160]})") from None
    s.state_matches(tensors, network.state_dict(), "the metadata field 'network'")
    s.equals("params.horizon", horizon, network.horizon, "the network's horizon, which its weights fit")
    s.equals("params.units", params["units"], network.hidden_size, "the network's hidden_size")
    s.equals("params.layers", params["layers"], network.num_layers, "the network's num_layers")
    s.equals("columns.targets", len(targets), network.n_targets, "targets: the network's n_targets")
    s.equals("columns.covariates", len(covariates), network.n_covariates, "covariates: the network's n_covariates")
    segment = params.get("segment")
    if segment is not None:
        s.equals("params.segment", segment, network.segment, "the network's segment")
    elif auto_segment(context) != network.segment:
        s.fail("params.context", f"a context whose automatic segment is the network's {network.segment}",
               f"{context} (segment {auto_segment(context)})")
    if context % network.segment:
        s.fail("params.context", f"a multiple of the network's segment {network.segment}", context)
    for name in ("mean", "scale"):
        values = scaler_cfg[name]
        if not isinstance(values, list) or len(values) != len(targets) + len(covariates):
            s.fail(f"scaler.{name}", f"{len(targets) + len(covariates)} numbers (one per column)",
                   f"{len(values)}" if isinstance(values, list) else type(values).__name__)
    return network


__all__ = ["auto_segment", "load_checked"]
