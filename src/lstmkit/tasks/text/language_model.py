"""Language models as plain functions: train (TBPTT, checkpoints, resume), evaluate, generate.

>>> # train_language_model("input.txt", output="lm.lstmkit", config=LMConfig(level="char", epochs=2))
>>> # for piece in LanguageModelGenerator.load("lm.lstmkit").generate("ROMEO:", 200, seed=1): print(piece, end="")

Files (both one safetensors file, JSON in the metadata, written atomically, never pickled):

* the model ``OUTPUT`` (``kind="language_model"``): weights, model config, vocabulary, training summary;
* the checkpoint ``OUTPUT.ckpt`` (``kind="language_model_checkpoint"``): the same plus the optimizer
  state, the schedule state, the RNG states (torch as a tensor, numpy and python as JSON), the
  epoch/step position, the carried hidden state and the running loss sums. Written after every
  epoch, when the time budget runs out and on Ctrl-C (at the next step boundary).

``resume=True`` restores all of that, so a resumed run with the same seed continues exactly as the
uninterrupted run would have (bitwise on the same machine and thread count for ``epochs`` runs; a
``minutes`` run depends on wall-clock time by nature).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from lstmkit.data.corpus import (
    EOS, Vocabulary, batchify, bptt_window, check_level, num_windows, tokenize,
)
from lstmkit.data.readers import read_text
from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.tasks.text.lm_network import LanguageModel
from lstmkit.models.serialization import file_kind, load_tensors, save_tensors

# fp32: exact (the fast path equals the reference cell). bf16: the forward pass runs under
# torch.autocast in bfloat16 (oneDNN's bf16 LSTM kernels: ~1.6x faster steps on CPUs with
# AVX512-BF16 or AMX); weights, gradients, optimizer state and the loss stay float32.
PRECISIONS = ("fp32", "bf16")
KIND_MODEL = "language_model"
KIND_CHECKPOINT = "language_model_checkpoint"
HOLDOUT_FRACTION = 0.1
LN2 = math.log(2.0)

# What must agree between a checkpoint and a resumed run (epochs/minutes may change: "train longer").
_FIXED_ON_RESUME = ("level", "layers", "units", "embedding_size", "tie_weights", "dropout", "bptt", "batch_size", "lr",
                    "optimizer", "schedule", "clip", "seed", "lr_decay", "decay_start", "eval_batch_size",
                    "precision")


def bf16_supported() -> bool:
    """Whether oneDNN can run bfloat16 LSTM kernels on this CPU (AVX512-BF16 or AMX; not plain AVX2)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def check_precision_supported(precision: str) -> None:
    """A ConfigError naming the CPU's capability when ``precision`` cannot run here (bf16 without oneDNN bf16)."""
    if precision == "bf16" and not bf16_supported():
        raise ConfigError(
            "precision bf16: this CPU has no bfloat16 LSTM kernels (oneDNN needs AVX512-BF16 or AMX; found "
            f"{torch.backends.cpu.get_cpu_capability()}); use --precision fp32"
        )


@dataclass
class LMConfig:
    """Training hyper-parameters. ``epochs`` and ``minutes`` are alternatives (``minutes`` wins if set)."""

    level: str = "char"
    layers: int = 2
    units: int = 256
    embedding_size: int | None = None  # None: = units
    tie_weights: bool = True  # decoder shares the embedding (needs embedding_size <= units)
    dropout: float = 0.2
    bptt: int = 128
    batch_size: int = 64
    lr: float | None = None  # None: 2e-3 for adam, 1.0 for sgd
    optimizer: str = "adam"
    schedule: str | None = None  # plateau | cosine | step ; None: cosine with minutes, plateau with epochs
    lr_decay: float = 0.5  # plateau / step factor
    decay_start: int = 4  # step schedule: decay after this many epochs
    clip: float = 5.0
    epochs: int | None = 10
    minutes: float | None = None
    seed: int = 0
    eval_batch_size: int = 10
    threads: int | None = None
    precision: str = "fp32"  # fp32 | bf16 (autocast for the forward pass; weights and optimizer stay fp32)

    def resolved(self) -> "LMConfig":
        c = LMConfig(**asdict(self))
        check_level(c.level)
        for name in ("layers", "units", "bptt", "batch_size", "eval_batch_size", "decay_start"):
            v = getattr(c, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "decay_start" else 1):
                raise ConfigError(f"{name}: expected a positive integer, found {v!r}")
        if c.embedding_size is None:
            c.embedding_size = c.units
        if not isinstance(c.embedding_size, int) or not 1 <= c.embedding_size:
            raise ConfigError(f"embedding_size: expected a positive integer, found {c.embedding_size!r}")
        if not isinstance(c.tie_weights, bool):
            raise ConfigError(f"tie_weights: expected true or false, found {c.tie_weights!r}")
        if c.tie_weights and c.embedding_size > c.units:
            raise ConfigError(
                f"embedding_size: a tied embedding needs embedding_size <= units, found {c.embedding_size} > "
                f"{c.units} (lower it, or untie the weights)"
            )
        if not isinstance(c.dropout, (int, float)) or not 0.0 <= c.dropout < 1.0:
            raise ConfigError(f"dropout: expected a number in [0, 1), found {c.dropout!r}")
        if c.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer: expected 'adam' or 'sgd', found {c.optimizer!r}")
        if c.lr is None:
            c.lr = 2e-3 if c.optimizer == "adam" else 1.0
        if not isinstance(c.lr, (int, float)) or not (c.lr > 0 and math.isfinite(c.lr)):
            raise ConfigError(f"lr: expected a positive number, found {c.lr!r}")
        if not isinstance(c.clip, (int, float)) or not c.clip > 0:
            raise ConfigError(f"clip: expected a positive number, found {c.clip!r}")
        if not isinstance(c.lr_decay, (int, float)) or not 0 < c.lr_decay <= 1:
            raise ConfigError(f"lr_decay: expected a number in (0, 1], found {c.lr_decay!r}")
        if c.minutes is not None:
            if not isinstance(c.minutes, (int, float)) or not (c.minutes > 0 and math.isfinite(c.minutes)):
                raise ConfigError(f"minutes: expected a positive number, found {c.minutes!r}")
        elif c.epochs is None or not isinstance(c.epochs, int) or isinstance(c.epochs, bool) or c.epochs < 1:
            raise ConfigError(f"epochs: expected an integer >= 1, found {c.epochs!r}")
        if c.schedule is None:
            c.schedule = "cosine" if c.minutes is not None else "plateau"
        if c.precision not in PRECISIONS:
            raise ConfigError(f"precision: expected {' or '.join(PRECISIONS)}, found {c.precision!r}")
        if c.schedule not in ("plateau", "cosine", "step", "constant"):
            raise ConfigError(f"schedule: expected plateau, cosine, step or constant, found {c.schedule!r}")
        if c.schedule == "cosine" and c.minutes is None:
            raise ConfigError("schedule: 'cosine' runs over a time budget and needs minutes=")
        if not isinstance(c.seed, int) or isinstance(c.seed, bool):
            raise ConfigError(f"seed: expected an integer, found {c.seed!r}")
        if c.threads is not None and (not isinstance(c.threads, int) or c.threads < 1):
            raise ConfigError(f"threads: expected an integer >= 1, found {c.threads!r}")
        c.check_memory()
        return c

    def check_memory(self, vocab_size: int = 2) -> None:
        """A one-line ConfigError naming ``units`` (or ``embedding_size``) when training cannot fit in memory."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        emb = self.embedding_size or self.units
        proj = emb if self.tie_weights and emb < self.units else 0
        rnn = lstm_params(emb, self.units, self.layers, proj_size=proj)
        table = vocab_size * emb * (1 if self.tie_weights else 2)
        name, value = ("units", self.units) if rnn >= table else ("embedding_size", emb)
        activations = 6 * self.batch_size * self.bptt * self.units * self.layers
        if 4 * activations > 16 * (rnn + table):  # the activations dominate: the streams are what to shrink
            name, value = "batch_size (streams)", self.batch_size
        check_training_fits(name, value, rnn + table, activation_floats=activations)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    seconds: float


@dataclass
class LMResult:
    output: Path | None
    checkpoint: Path
    level: str
    vocab_size: int
    train_tokens: int
    valid_tokens: int
    epochs_completed: int
    steps: int
    val_loss: float  # nats per token
    seconds: float
    interrupted: bool = False
    stopped_by_time: bool = False
    history: list[EpochRecord] = field(default_factory=list)

    @property
    def val_bits_per_token(self) -> float:
        return self.val_loss / LN2

    @property
    def val_perplexity(self) -> float:
        return math.exp(min(self.val_loss, 700.0))

    def metric_text(self) -> str:
        return metric_text(self.val_loss, self.level)


def metric_text(loss: float, level: str) -> str:
    if level == "char":
        return f"{loss:.4f} nats/char ({loss / LN2:.4f} bits/char)"
    return f"perplexity {math.exp(min(loss, 700.0)):.2f} ({loss:.4f} nats/word)"


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(output) + ".ckpt")


# ---------------------------------------------------------------------------------------------------- data

@dataclass
class LMData:
    vocab: Vocabulary
    train: torch.Tensor  # (T,) ids
    valid: torch.Tensor
    train_sha256: str
    holdout: bool


def prepare_data(train_path: str | os.PathLike[str], valid_path: str | os.PathLike[str] | None, level: str,
                 encoding: str = "utf-8", vocab: Vocabulary | None = None) -> LMData:
    """Read and tokenize; the vocabulary comes from the training tokens (or is given, on resume).

    Without ``valid_path`` the last 10% of the file's tokens are held out for validation.
    """
    check_level(level)
    text = read_text(train_path, kind="training", encoding=encoding)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    tokens = tokenize(text, level)
    if valid_path is not None:
        valid_tokens = tokenize(read_text(valid_path, kind="validation", encoding=encoding), level)
        train_tokens = tokens
    else:
        cut = int(len(tokens) * (1.0 - HOLDOUT_FRACTION))
        train_tokens, valid_tokens = tokens[:cut], tokens[cut:]
    if len(train_tokens) < 4 or len(valid_tokens) < 2:
        raise DataError(
            f"training file {str(train_path)!r}: too little text ({len(tokens)} {level} tokens; "
            f"{len(train_tokens)} for training, {len(valid_tokens)} for validation)"
        )
    if vocab is None:
        vocab = Vocabulary.build(train_tokens, level)
    train = torch.tensor(vocab.encode(train_tokens), dtype=torch.long)
    valid = torch.tensor(vocab.encode(valid_tokens), dtype=torch.long)
    return LMData(vocab, train, valid, sha, valid_path is None)


# ---------------------------------------------------------------------------------------------------- state I/O

def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
    }
    meta = {
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, tensors["rng.numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            elif value is not None:
                scalars[f"{idx}.{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_language_model(path: str | os.PathLike[str], model: LanguageModel, vocab: Vocabulary,
                        extra: dict[str, Any] | None = None) -> None:
    """Write a generation-ready model file (``kind="language_model"``)."""
    save_tensors(path, {f"model.{k}": v for k, v in model.tensors().items()}, {
        "config": json.dumps({"class_name": "LanguageModel", "config": model.get_config()}),
        "vocabulary": json.dumps(vocab.get_config()),
        "training": json.dumps(extra or {}),
    }, kind=KIND_MODEL)


def _describe_kind(meta: dict[str, str]) -> str:
    kind = file_kind(meta)
    if kind == "sequential":
        try:
            cls = json.loads(meta.get("config", "{}")).get("class_name", "Sequential")
        except (json.JSONDecodeError, AttributeError):
            cls = "Sequential"
        return f"a Keras-style {cls} model (e.g. a text classifier or the sentiment demo's model)"
    return f"a {kind!r} file"


def load_language_model(path: str | os.PathLike[str]) -> tuple[LanguageModel, Vocabulary, dict[str, str],
                                                                    dict[str, torch.Tensor]]:
    """Model, vocabulary, raw metadata and all tensors of a model or checkpoint file; wrong kinds are named."""
    tensors, meta = load_tensors(path)
    kind = file_kind(meta)
    if kind not in (KIND_MODEL, KIND_CHECKPOINT):
        raise ModelFileError(
            f"model file {str(path)!r}: is {_describe_kind(meta)}, not a language model "
            f"(train one with `lstmkit text train-lm`)"
        )
    from lstmkit.util.schema import FileSchema

    what = "checkpoint" if kind == KIND_CHECKPOINT else "model file"
    s = FileSchema(path, what)
    config = s.keys(s.json(meta, "config", dict), ("class_name", "config"), "config")
    s.choice(config, "class_name", ("LanguageModel",), "config")
    net = s.keys(config["config"], ("vocab_size", "embedding_size", "hidden_size", "num_layers"), "config.config")
    allowed = ("vocab_size", "embedding_size", "hidden_size", "num_layers", "dropout", "tie_weights")
    unknown = sorted(set(net) - set(allowed))
    if unknown:
        s.fail(f"config.config.{unknown[0]}", "a LanguageModel setting (" + ", ".join(allowed) + ")", "an unknown key")
    for key, low in (("vocab_size", 2), ("embedding_size", 1), ("hidden_size", 1), ("num_layers", 1)):
        s.int_in(net, key, "config.config", low=low)
    s.number_in(net, "dropout", "config.config", low=0, high=1, high_open=True, default=0.0)
    s.boolean(net, "tie_weights", "config.config", default=True)
    emb = tensors.get("model.embedding.weight")
    if emb is not None and emb.ndim == 2:  # the cheap checks first, so an edited size never allocates
        s.equals("config.config.vocab_size", net["vocab_size"], int(emb.shape[0]), "the embedding weight's rows")
        s.equals("config.config.embedding_size", net["embedding_size"], int(emb.shape[1]),
                 "the embedding weight's columns")
    hh = tensors.get("model.lstm.weight_hh_l0")
    if hh is not None and hh.ndim == 2:
        s.equals("config.config.hidden_size", 4 * net["hidden_size"], int(hh.shape[0]),
                 "4 x hidden_size = the recurrent weight's rows")
    vocab_cfg = s.json(meta, "vocabulary", dict)
    try:
        vocab = Vocabulary.from_config(vocab_cfg)
        model = LanguageModel.from_config(net)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"{what} {str(path)!r}: corrupted language model ({type(e).__name__}: {e})"[:400]) from None
    state = model.tensors()
    s.state_matches({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}, state,
                    "the metadata field 'config'")
    model.load_tensors({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    model.eval()
    if len(vocab) != model.vocab_size:
        raise ModelFileError(
            f"{what} {str(path)!r}: metadata field 'vocabulary': expected {model.vocab_size} tokens "
            f"(the model's vocab_size), found {len(vocab)}"
        )
    s.json(meta, "training", dict, default={})
    return model, vocab, meta, tensors


#: The ``train-lm`` option that sets each LMConfig field (where the spelling differs from ``--field-name``).
_CLI_OPTIONS = {"tie_weights": "--tie/--no-tie", "eval_batch_size": "eval_batch_size"}


def resume_option(name: str) -> str:
    """How a user sets LMConfig field ``name`` on the command line (``units`` -> ``--units``)."""
    return _CLI_OPTIONS.get(name, "--" + name.replace("_", "-"))


def check_checkpoint_training(path: Any, meta: dict[str, str], tensors: dict[str, torch.Tensor] | None = None,
                              ) -> tuple[dict[str, Any], "LMConfig"]:
    """The ``training`` field of a checkpoint, checked against its schema: (decoded dict, saved LMConfig).

    Files of format version 1 carry no metadata checksum, so an edited position (``epoch: -7``), a
    config that no longer resolves, or optimizer / RNG entries that do not match the tensors are each
    a one-line ModelFileError naming the field, instead of a traceback or a silently wrong resume.
    """
    from lstmkit.util.schema import FileSchema

    s = FileSchema(path, "checkpoint")
    training = s.keys(s.json(meta, "training", dict),
                      ("config", "position", "schedule", "optimizer", "rng", "history"), "training")
    cfg = s.obj(training["config"], "training.config")
    known = {f.name for f in fields(LMConfig)}
    unknown = sorted(set(cfg) - known)
    if unknown:
        s.fail(f"training.config.{unknown[0]}", "an LMConfig field", "an unknown key")
    try:
        saved = LMConfig(**cfg).resolved()
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"checkpoint {str(path)!r}: metadata field 'training.config' is invalid ({e})"[:400]) from None
    pos = s.keys(training["position"], ("epoch", "window", "global_step", "elapsed", "loss_sum", "loss_count"),
                 "training.position")
    s.int_in(pos, "epoch", "training.position", low=0)
    s.int_in(pos, "window", "training.position", low=0)
    s.int_in(pos, "global_step", "training.position", low=0)
    s.int_in(pos, "loss_count", "training.position", low=0)
    s.number_in(pos, "elapsed", "training.position", low=0)
    s.number_in(pos, "loss_sum", "training.position")
    if saved.minutes is None and pos["epoch"] > saved.epochs:
        s.fail("training.position.epoch", f"an epoch <= training.config.epochs ({saved.epochs})", pos["epoch"])
    sched = s.keys(training["schedule"], ("lr", "best"), "training.schedule")
    s.number_in(sched, "lr", "training.schedule", low=0, low_open=True)
    if not isinstance(sched["best"], (int, float)) or isinstance(sched["best"], bool):
        s.fail("training.schedule.best", "a number", type(sched["best"]).__name__)
    history = training["history"]
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        s.fail("training.history", "a JSON array of objects (one per epoch)", type(history).__name__)
    if len(history) > pos["epoch"] + 1:
        s.fail("training.history", f"at most {pos['epoch'] + 1} epochs (training.position.epoch + 1)", len(history))
    optimizer = s.keys(training["optimizer"], ("param_groups",), "training.optimizer")
    if not isinstance(optimizer["param_groups"], list) or not all(isinstance(g, dict) for g in optimizer["param_groups"]):
        s.fail("training.optimizer.param_groups", "a JSON array of objects", type(optimizer["param_groups"]).__name__)
    s.obj(training["rng"], "training.rng")
    if tensors is not None:
        for name in ("hidden.h", "hidden.c"):
            if name not in tensors:
                raise ModelFileError(f"checkpoint {str(path)!r}: weight {name!r} (the carried LSTM state) is missing")
            shape = tuple(tensors[name].shape)
            if len(shape) != 3 or shape[0] != saved.layers or shape[1] != saved.batch_size:
                raise ModelFileError(
                    f"checkpoint {str(path)!r}: tensor {name!r} has shape {shape}, training.config needs "
                    f"({saved.layers}, {saved.batch_size}, ...)"
                )
    return training, saved


# ---------------------------------------------------------------------------------------------------- training

def evaluate(model: LanguageModel, data: torch.Tensor, bptt: int, batch_size: int = 10) -> float:
    """Mean cross-entropy in nats per token of ``data`` (1-D ids), streams of ``batch_size`` with carried state."""
    batch_size = max(1, min(batch_size, data.numel() // 2))
    streams = batchify(data, batch_size)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    hidden = model.init_hidden(batch_size)
    with torch.no_grad():
        for index in range(num_windows(streams, bptt)):
            x, y = bptt_window(streams, index, bptt)
            logits, hidden = model(x, hidden)
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


class _StopFlag:
    """Set by SIGINT (Ctrl-C) during training; the loop saves at the next step boundary. A second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.stop = False
        self._previous: Any = None

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _schedule_lr(cfg: LMConfig, sched: dict[str, Any], elapsed: float) -> float:
    if cfg.schedule == "cosine":
        frac = min(1.0, elapsed / (cfg.minutes * 60.0))
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * frac)))
    return sched["lr"]


def _end_of_epoch_schedule(cfg: LMConfig, sched: dict[str, Any], epoch_done: int, val_loss: float) -> None:
    if cfg.schedule == "plateau":
        if val_loss < sched["best"] - 1e-4:
            sched["best"] = val_loss
        else:
            sched["lr"] *= cfg.lr_decay
    elif cfg.schedule == "step" and epoch_done >= cfg.decay_start:
        sched["lr"] *= cfg.lr_decay
    sched["best"] = min(sched["best"], val_loss)


def train_language_model(
    train_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: LMConfig | None = None,
    *,
    valid_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    encoding: str = "utf-8",
    echo: Callable[[str], None] | None = None,
    on_step: Callable[[int], bool | None] | None = None,
    log_every: int = 0,
) -> LMResult:
    """Train a language model with truncated BPTT; see the module docstring for files and resume.

    ``on_step(global_step)`` is called after each optimizer step; returning True stops the run like
    Ctrl-C (checkpoint, then return with ``interrupted=True``). ``echo`` gets one line per epoch.
    """
    say = echo or (lambda s: None)
    from lstmkit.util.files import prepare_output

    cfg = (config or LMConfig()).resolved()
    # Both files are checked before any training, so an unwritable --output is not found at the end.
    output = prepare_output(output, "model.lstmkit")
    ckpt_path = checkpoint_path(output)
    prepare_output(ckpt_path, "model.lstmkit.ckpt", name="checkpoint")
    state_tensors: dict[str, torch.Tensor] = {}
    train_meta: dict[str, Any] = {}
    vocab = None
    if resume:
        if not ckpt_path.is_file():
            raise ConfigError(f"resume: no checkpoint {str(ckpt_path)!r} to resume from (train without --resume first)")
        _, vocab, meta, state_tensors = load_language_model(ckpt_path)
        if file_kind(meta) != KIND_CHECKPOINT:
            raise ModelFileError(f"checkpoint {str(ckpt_path)!r}: not a training checkpoint")
        train_meta, saved = check_checkpoint_training(ckpt_path, meta, tensors=state_tensors)
        for name in _FIXED_ON_RESUME:
            if getattr(saved, name) != getattr(cfg, name):
                opt = resume_option(name)
                raise ConfigError(
                    f"resume: {opt} was {getattr(saved, name)!r} in {str(ckpt_path)!r}, found {getattr(cfg, name)!r} "
                    f"(a resumed run must use the checkpoint's settings; leave {opt} out to take its value)"
                )
    check_precision_supported(cfg.precision)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    data = prepare_data(train_path, valid_path, cfg.level, encoding, vocab)
    if resume and train_meta.get("train_sha256") != data.train_sha256:
        raise DataError(f"resume: training file {str(train_path)!r} differs from the one {str(ckpt_path)!r} was trained on")
    streams = batchify(data.train, cfg.batch_size)
    windows = num_windows(streams, cfg.bptt)

    # Seed before building the model, so initial weights depend only on the seed.
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = LanguageModel(len(data.vocab), cfg.embedding_size, cfg.units, cfg.layers, cfg.dropout,
                          tie_weights=cfg.tie_weights)
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    pos = {"epoch": 0, "window": 0, "global_step": 0, "elapsed": 0.0, "loss_sum": 0.0, "loss_count": 0}
    sched: dict[str, Any] = {"lr": cfg.lr, "best": float("inf")}
    history: list[EpochRecord] = []
    hidden = model.init_hidden(cfg.batch_size)
    if resume:
        model.load_tensors({k[6:]: v for k, v in state_tensors.items() if k.startswith("model.")})
        _load_optimizer(opt, state_tensors, train_meta["optimizer"])
        _set_rng_state(state_tensors, train_meta["rng"])
        pos.update(train_meta["position"])
        sched.update(train_meta["schedule"])
        history = [EpochRecord(**h) for h in train_meta["history"]]
        hidden = (state_tensors["hidden.h"].clone(), state_tensors["hidden.c"].clone())
        say(f"resumed from {ckpt_path} at epoch {pos['epoch'] + 1}, step {pos['window']} of {windows}")

    def save_checkpoint() -> None:
        opt_t, opt_meta = _optimizer_tensors(opt)
        rng_t, rng_meta = _rng_state()
        tensors = {f"model.{k}": v for k, v in model.tensors().items()}
        tensors.update(opt_t)
        tensors.update(rng_t)
        tensors["hidden.h"], tensors["hidden.c"] = hidden
        training = {
            "config": asdict(cfg), "position": pos, "schedule": sched, "optimizer": opt_meta, "rng": rng_meta,
            "history": [asdict(h) for h in history], "train_sha256": data.train_sha256,
        }
        save_tensors(ckpt_path, tensors, {
            "config": json.dumps({"class_name": "LanguageModel", "config": model.get_config()}),
            "vocabulary": json.dumps(data.vocab.get_config()),
            "training": json.dumps(training),
        }, kind=KIND_CHECKPOINT, what="checkpoint")

    budget = cfg.minutes * 60.0 if cfg.minutes is not None else None
    max_epochs = cfg.epochs if budget is None else 10**9
    interrupted = stopped_by_time = False
    start = time.perf_counter() - pos["elapsed"]
    model.train()
    val_loss = history[-1].val_loss if history else float("nan")
    last_eval_pos: tuple[int, int] | None = (pos["epoch"], 0) if history and pos["window"] == 0 else None
    with _StopFlag() as flag:
        while pos["epoch"] < max_epochs and not (interrupted or stopped_by_time):
            epoch_start = time.perf_counter()
            if pos["window"] == 0:
                hidden = model.init_hidden(cfg.batch_size)
                pos["loss_sum"], pos["loss_count"] = 0.0, 0
            while pos["window"] < windows:
                lr = _schedule_lr(cfg, sched, time.perf_counter() - start)
                for g in opt.param_groups:
                    g["lr"] = lr
                x, y = bptt_window(streams, pos["window"], cfg.bptt)
                hidden = (hidden[0].detach(), hidden[1].detach())
                with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                    logits, hidden = model(x, hidden)
                loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
                hidden = (hidden[0].float(), hidden[1].float())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                opt.step()
                hidden = (hidden[0].detach(), hidden[1].detach())
                pos["loss_sum"] += loss.item() * y.numel()
                pos["loss_count"] += y.numel()
                pos["window"] += 1
                pos["global_step"] += 1
                pos["elapsed"] = time.perf_counter() - start
                if log_every and pos["global_step"] % log_every == 0:
                    say(f"  step {pos['global_step']} (epoch {pos['epoch'] + 1}, {pos['window']}/{windows}): "
                        f"train {pos['loss_sum'] / pos['loss_count']:.4f} nats/token, lr {lr:.3g}, "
                        f"{pos['elapsed']:.0f} s")
                if on_step is not None and on_step(pos["global_step"]):
                    flag.stop = True
                if flag.stop:
                    interrupted = True
                    break
                if budget is not None and pos["elapsed"] >= budget:
                    stopped_by_time = True
                    break
            if interrupted:
                break
            train_loss = pos["loss_sum"] / max(pos["loss_count"], 1)
            val_loss = evaluate(model, data.valid, cfg.bptt, cfg.eval_batch_size)
            last_eval_pos = (pos["epoch"], pos["window"])
            if pos["window"] >= windows:
                pos["epoch"] += 1
                pos["window"] = 0
                _end_of_epoch_schedule(cfg, sched, pos["epoch"], val_loss)
                history.append(EpochRecord(pos["epoch"], train_loss, val_loss, lr, time.perf_counter() - epoch_start))
                say(f"epoch {pos['epoch']}: train {train_loss:.4f} nats/token, valid {metric_text(val_loss, cfg.level)}, "
                    f"lr {lr:.3g}, {time.perf_counter() - epoch_start:.1f} s")
            else:
                say(f"time budget reached in epoch {pos['epoch'] + 1} ({pos['window']}/{windows} steps): train "
                    f"{train_loss:.4f} nats/token, valid {metric_text(val_loss, cfg.level)}")
            pos["elapsed"] = time.perf_counter() - start
            save_checkpoint()
    if interrupted:
        save_checkpoint()
        say(f"interrupted at epoch {pos['epoch'] + 1}, step {pos['window']} of {windows}: checkpoint saved to {ckpt_path}")
        out: Path | None = None
    else:
        if last_eval_pos is None:  # nothing ran (resume of a finished run)
            val_loss = evaluate(model, data.valid, cfg.bptt, cfg.eval_batch_size)
        save_language_model(output, model, data.vocab, {
            "config": asdict(cfg), "val_loss": val_loss, "epochs": pos["epoch"], "steps": pos["global_step"],
        })
        out = output
    return LMResult(
        output=out, checkpoint=ckpt_path, level=cfg.level, vocab_size=len(data.vocab),
        train_tokens=int(data.train.numel()), valid_tokens=int(data.valid.numel()),
        epochs_completed=pos["epoch"], steps=pos["global_step"], val_loss=val_loss, seconds=pos["elapsed"],
        interrupted=interrupted, stopped_by_time=stopped_by_time, history=history,
    )


def evaluate_file(model_path: str | os.PathLike[str], text_path: str | os.PathLike[str], *, bptt: int = 128,
                  batch_size: int = 10, encoding: str = "utf-8") -> float:
    """Nats per token of a text file under a saved model (words not in the vocabulary count as ``<oov>``)."""
    model, vocab, _, _ = load_language_model(model_path)
    tokens = tokenize(read_text(text_path, kind="evaluation", encoding=encoding), vocab.level)
    return evaluate(model, torch.tensor(vocab.encode(tokens), dtype=torch.long), bptt, batch_size)


# ---------------------------------------------------------------------------------------------------- generation

class LanguageModelGenerator:
    """Sample text from a trained language model (a model file or a checkpoint)."""

    def __init__(self, model: LanguageModel, vocab: Vocabulary) -> None:
        self.model = model.eval()
        self.vocab = vocab

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "LanguageModelGenerator":
        model, vocab, _, _ = load_language_model(path)
        return cls(model, vocab)

    @property
    def level(self) -> str:
        return self.vocab.level

    def prime_tokens(self, prime: str) -> list[str]:
        if not isinstance(prime, str):
            raise InputValueError(f"prime: expected a string, found {type(prime).__name__}")
        return tokenize(prime, self.level, final_eos=False)

    def unknown(self, prime: str) -> list[str]:
        """The prime's tokens that the model never saw (they are fed as ``<oov>``)."""
        return self.vocab.unknown(self.prime_tokens(prime))

    def generate(self, prime: str = "", length: int = 500, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> Iterator[str]:
        """Yield the generated text piece by piece (one token each; the prime itself is not repeated)."""
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise ConfigError(f"length: expected an integer >= 1, found {length!r}")
        if not isinstance(temperature, (int, float)) or not (temperature > 0 and math.isfinite(temperature)):
            raise ConfigError(f"temperature: expected a positive number, found {temperature!r}")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ConfigError(f"top_k: expected an integer >= 1, found {top_k!r}")
        tokens = self.prime_tokens(prime)
        gen = torch.Generator().manual_seed(seed if seed is not None else int.from_bytes(os.urandom(7), "little"))
        if not tokens:
            start = EOS if self.level == "word" else "\n"
            ids = [self.vocab.stoi.get(start, 1)]
        else:
            ids = self.vocab.encode(tokens)
        at_line_start = not tokens or tokens[-1] == EOS
        return self._sample(ids, length, float(temperature), top_k, gen, at_line_start)

    def _sample(self, ids: list[int], length: int, temperature: float, top_k: int | None, gen: torch.Generator,
                at_line_start: bool) -> Iterator[str]:
        with torch.no_grad():
            logits, hidden = self.model(torch.tensor(ids, dtype=torch.long).view(-1, 1))
            last = logits[-1, 0]
            for _ in range(length):
                scores = last.double() / temperature
                scores[0] = -math.inf  # never sample <oov>
                if top_k is not None and top_k < scores.numel():
                    kth = torch.topk(scores, top_k).values[-1]
                    scores = scores.masked_fill(scores < kth, -math.inf)
                probs = torch.softmax(scores, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=gen).item())
                word = self.vocab.itos[token]
                if self.level == "char":
                    yield word
                elif word == EOS:
                    yield "\n"
                    at_line_start = True
                else:
                    yield word if at_line_start else " " + word
                    at_line_start = False
                logits, hidden = self.model(torch.tensor([[token]], dtype=torch.long), hidden)
                last = logits[-1, 0]


__all__ = [
    "LMConfig", "LMResult", "EpochRecord", "LMData", "prepare_data", "train_language_model", "evaluate",
    "evaluate_file", "LanguageModelGenerator", "load_language_model", "save_language_model", "checkpoint_path",
    "metric_text", "KIND_MODEL", "KIND_CHECKPOINT", "HOLDOUT_FRACTION",
]
