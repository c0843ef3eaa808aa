"""Training checkpoints: one lstmkit file (``kind="train_checkpoint"``) holding everything a resume needs.

Tensors (safetensors, checksummed):

* ``model.<name>``: the model's ``state_dict()``;
* ``optim.<i>.<key>``: the optimizer's per-parameter state tensors (Adam's moments and step ...);
* ``rng.<r>.torch``, ``rng.<r>.cuda.<d>``, ``rng.<r>.numpy``: random-generator states of process ``r``;
* ``carry.<r>.<i>``: the truncated-BPTT carry of process ``r``, flattened (its structure is JSON);
* ``best.<name>``: the early stopper's best weights; ``acc.<name>``: the running sums of the epoch.

Metadata (JSON strings, covered by the file's metadata checksum): ``train_checkpoint_version``,
``fingerprint`` (the settings a resumed run must share), ``extra`` (whatever the task saves: a
vocabulary, a config), ``training`` (position, schedule, early stopper, history, optimizer groups
and scalars, RNG scalars, carry structure) and ``model_class``.

Files are written atomically (:func:`lstmkit.util.container.save_tensors`): an interrupted write
leaves the previous checkpoint as it was. Reading checks the container's marker and checksums, the
kind, the version and a schema of every field before anything is used; each failure is one
:class:`~lstmkit.errors.ModelFileError` line naming the file.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.errors import ConfigError, ModelFileError
from lstmkit.util.container import file_kind, json_field, load_tensors, save_tensors

KIND = "train_checkpoint"
VERSION = "1"
WHAT = "checkpoint"


# ------------------------------------------------------------------------------------------------ carry
def detach(carry: Any) -> Any:
    """``carry`` with every tensor detached (tuples, lists and dicts of tensors; other leaves kept)."""
    if isinstance(carry, torch.Tensor):
        return carry.detach()
    if isinstance(carry, tuple):
        return tuple(detach(c) for c in carry)
    if isinstance(carry, list):
        return [detach(c) for c in carry]
    if isinstance(carry, dict):
        return {k: detach(v) for k, v in carry.items()}
    return carry


def flatten(carry: Any) -> tuple[list[torch.Tensor], Any]:
    """Tensors of ``carry`` in order, and a JSON description of its structure."""
    leaves: list[torch.Tensor] = []

    def walk(x: Any) -> Any:
        if x is None:
            return None
        if isinstance(x, torch.Tensor):
            leaves.append(x)
            return {"tensor": len(leaves) - 1}
        if isinstance(x, (tuple, list)):
            return {"tuple" if isinstance(x, tuple) else "list": [walk(v) for v in x]}
        if isinstance(x, dict):
            if not all(isinstance(k, str) for k in x):
                raise ConfigError("carry: dict keys must be strings to be saved in a checkpoint")
            return {"dict": {k: walk(v) for k, v in x.items()}}
        if isinstance(x, (bool, int, float, str)):
            return {"value": x}
        raise ConfigError(f"carry: cannot save a {type(x).__name__} in a checkpoint (tensors, tuples, lists, dicts)")

    return leaves, walk(carry)


def unflatten(spec: Any, leaves: list[torch.Tensor]) -> Any:
    if spec is None:
        return None
    (key, value), = spec.items()
    if key == "tensor":
        return leaves[value]
    if key == "tuple":
        return tuple(unflatten(v, leaves) for v in value)
    if key == "list":
        return [unflatten(v, leaves) for v in value]
    if key == "dict":
        return {k: unflatten(v, leaves) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------ RNG
def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's generator states: tensors and JSON scalars."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    tensors = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    meta = {"numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "python": [py_state[0], list(py_state[1]), py_state[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = sorted((int(k.split(".")[1]), v) for k, v in tensors.items() if k.startswith("cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([v for _, v in cuda][: torch.cuda.device_count()])


# ------------------------------------------------------------------------------------------------ optimizer
def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's ``state_dict()`` split into tensors and JSON (param groups, scalar state)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value
            elif value is None or isinstance(value, (bool, int, float, str)):
                scalars[f"{idx}.{key}"] = value
            else:
                raise ConfigError(f"optimizer: state {key!r} of type {type(value).__name__} cannot be saved in a checkpoint")
    groups = []
    for g in sd["param_groups"]:
        group = {}
        for k, v in g.items():
            if isinstance(v, tuple):
                v = list(v)
            if isinstance(v, torch.Tensor):
                v = v.item()
            group[k] = v
        groups.append(group)
    return tensors, {"class": type(opt).__name__, "param_groups": groups, "scalars": scalars}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    current = opt.state_dict()["param_groups"]
    groups = []
    for saved, now in zip(meta["param_groups"], current):
        g = dict(saved)
        for k, v in now.items():
            if isinstance(v, tuple) and isinstance(g.get(k), list):
                g[k] = tuple(g[k])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------------------------------------ file
def save(path: Any, tensors: dict[str, torch.Tensor], training: dict[str, Any], fingerprint: dict[str, Any],
         extra: dict[str, Any], model_class: str) -> None:
    """Write a checkpoint atomically (see the module docstring for the layout)."""
    save_tensors(path, tensors, {
        "train_checkpoint_version": VERSION,
        "fingerprint": json.dumps(fingerprint),
        "extra": json.dumps(extra),
        "training": json.dumps(training),
        "model_class": model_class,
    }, kind=KIND, what=WHAT)


def _describe(kind: str) -> str:
    return {"sequential": "a Keras-style model", "language_model": "a language model",
            "language_model_checkpoint": "a language-model checkpoint of the older format"}.get(kind, f"a {kind!r} file")


class Checkpoint:
    """A checkpoint read and checked: ``tensors``, ``training``, ``fingerprint``, ``extra``, ``path``."""

    def __init__(self, path: Path, tensors: dict[str, torch.Tensor], training: dict[str, Any],
                 fingerprint: dict[str, Any], extra: dict[str, Any], model_class: str) -> None:
        self.path, self.tensors, self.training = path, tensors, training
        self.fingerprint, self.extra, self.model_class = fingerprint, extra, model_class

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors named ``prefix.<rest>``, by ``<rest>``."""
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}

    @property
    def position(self) -> dict[str, Any]:
        return self.training["position"]


def _bad(path: Path, text: str) -> ModelFileError:
    return ModelFileError(f"{WHAT} {str(path)!r}: {text}")


_POSITION = {"epoch": int, "batch": int, "step": int, "elapsed": (int, float)}


def _check_schema(path: Path, t: Any, tensors: dict[str, torch.Tensor]) -> None:
    if not isinstance(t, dict):
        raise _bad(path, "metadata field 'training' should be a JSON object")
    need = {"position": dict, "schedule": dict, "early_stopping": (dict, type(None)), "history": list,
            "evals": list, "optimizer": dict, "rng": list, "carry": list, "accumulators": list, "world_size": int}
    for key, typ in need.items():
        if key not in t:
            raise _bad(path, f"corrupted (training field {key!r} is missing)")
        if not isinstance(t[key], typ) or isinstance(t[key], bool):
            raise _bad(path, f"training field {key!r} has the wrong type ({type(t[key]).__name__})")
    for key, typ in _POSITION.items():
        v = t["position"].get(key)
        if not isinstance(v, typ) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise _bad(path, f"training field 'position.{key}' should be a number >= 0, found {v!r}")
    world = t["world_size"]
    if world < 1 or len(t["rng"]) != world or len(t["carry"]) != world:
        raise _bad(path, f"corrupted (world_size {world} does not match the saved per-process states)")
    opt = t["optimizer"]
    if not isinstance(opt.get("param_groups"), list) or not isinstance(opt.get("scalars"), dict):
        raise _bad(path, "corrupted (training field 'optimizer' lacks param_groups or scalars)")
    for r in range(world):
        if f"rng.{r}.torch" not in tensors or f"rng.{r}.numpy" not in tensors:
            raise _bad(path, f"corrupted (the random-generator state of process {r} is missing)")
    for name in t["accumulators"]:
        if f"acc.{name}" not in tensors:
            raise _bad(path, f"corrupted (accumulator {name!r} is missing)")


def load(path: Any) -> Checkpoint:
    """Read and check a checkpoint; one-line ModelFileError for missing, foreign, corrupted or truncated files."""
    tensors, meta = load_tensors(path, what=WHAT)
    path = Path(path)
    kind = file_kind(meta)
    if kind != KIND:
        raise _bad(path, f"is {_describe(kind)}, not a training checkpoint (kind {KIND!r})")
    version = meta.get("train_checkpoint_version")
    if version != VERSION:
        raise _bad(path, f"training-checkpoint version {version!r} is not one this lstmkit reads (expected {VERSION!r})")
    fingerprint = json_field(path, meta, "fingerprint", dict, what=WHAT)
    extra = json_field(path, meta, "extra", dict, what=WHAT)
    training = json_field(path, meta, "training", dict, what=WHAT)
    _check_schema(path, training, tensors)
    return Checkpoint(path, tensors, training, fingerprint, extra, meta.get("model_class", ""))


def read_info(path: Any) -> Checkpoint:
    """The same as :func:`load` (named for callers that want a checkpoint's ``extra`` before building a model)."""
    return load(path)


def check_fingerprint(ckpt: Checkpoint, fingerprint: dict[str, Any]) -> None:
    """A ConfigError naming the first setting that differs between the checkpoint and this run."""
    saved = ckpt.fingerprint
    for key in list(saved) + [k for k in fingerprint if k not in saved]:
        was, now = saved.get(key, "<not set>"), _jsonable(fingerprint.get(key, "<not set>"))
        if was != now:
            raise ConfigError(
                f"resume: {key} was {_show(was)} in {str(ckpt.path)!r}, found {_show(now)} "
                "(a resumed run must use the checkpoint's settings)"
            )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) and v != "<not set>" else json.dumps(v) if not isinstance(v, str) else v


def check_model(ckpt: Checkpoint, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The checkpoint's model tensors, checked against ``model`` (same names and shapes)."""
    saved = ckpt.group("model")
    own = model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing or unexpected:
        detail = f"lacks {missing[0]!r}" if missing else f"has {unexpected[0]!r}, which this model lacks"
        raise _bad(ckpt.path, f"holds another model (the checkpoint {detail}; saved from {ckpt.model_class or 'an unknown class'})")
    for k, v in own.items():
        if tuple(saved[k].shape) != tuple(v.shape):
            raise _bad(ckpt.path, f"holds another model ({k!r} has shape {tuple(saved[k].shape)} there, "
                                  f"{tuple(v.shape)} in this model)")
    return saved


def _jsonable_check(obj: Any, what: str) -> None:
    try:
        json.dumps(obj, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: must be JSON-serialisable to be saved in a checkpoint ({e})") from None


__all__ = ["KIND", "VERSION", "Checkpoint", "save", "load", "read_info", "check_fingerprint", "check_model",
           "detach", "flatten", "unflatten", "rng_state", "set_rng_state", "optimizer_state", "load_optimizer_state"]
