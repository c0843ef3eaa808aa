"""Language models as plain functions: train (TBPTT through :mod:`lstmkit.train`), evaluate, generate.

>>> # train_language_model("input.txt", output="lm.lstmkit", config=LMConfig(level="char", epochs=2))
>>> # for piece in LanguageModelGenerator.load("lm.lstmkit").generate("ROMEO:", 200, seed=1): print(piece, end="")

Training runs through the one engine, :class:`lstmkit.train.Trainer`: this module supplies the batch
source (BPTT window ``i`` of the streams, the same in every epoch; with ``--nproc`` each process
takes its share of the streams), the step function (cross-entropy per token, the carried ``(h, c)``
as the engine's ``carry``), ``init_carry`` (zeros at each epoch's start), the validation function,
and the LR schedule mapped to the engine's (``plateau`` -> :class:`~lstmkit.train.ReduceOnPlateau`,
``step`` -> :class:`~lstmkit.train.StepDecay`, ``cosine`` -> :class:`~lstmkit.train.Cosine` over the
time budget, ``constant``).

Files (both one safetensors file, JSON in the metadata, written atomically, never pickled):

* the model ``OUTPUT`` (``kind="language_model"``): weights, model config, vocabulary, training summary;
* the checkpoint ``OUTPUT.ckpt``: the engine's (``kind="train_checkpoint"``, :mod:`lstmkit.train.checkpoint`:
  weights, optimizer, schedule, RNG states, position, carried state, running sums, history), with
  the language model's config, vocabulary and training-text hash in its ``extra`` field. Written
  after every epoch, when the run ends (time budget included) and on Ctrl-C (at the next step).

``resume=True`` continues from the checkpoint exactly: a resumed run ends with the same weights,
bit for bit, as the uninterrupted one (same machine and thread count, ``epochs`` runs; a ``minutes``
run depends on wall-clock time by nature). Checkpoints of the previous format
(``kind="language_model_checkpoint"``) still load for generation and evaluation; resuming one is a
one-line error that says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from lstmkit.data.corpus import (
    EOS, Vocabulary, batchify, bptt_window, check_level, num_windows, tokenize,
)
from lstmkit.data.readers import read_text
from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.tasks.text.lm_network import LanguageModel
from lstmkit.train import checkpoint as ckpt_io
from lstmkit.train import distributed as dist
from lstmkit.train.batches import FunctionBatches, epoch_seed
from lstmkit.train.engine import Hooks, StepOutput, TrainConfig, Trainer, TrainState
from lstmkit.train.precision import check_precision, resolve_precision
from lstmkit.train.schedules import Constant, Cosine, ReduceOnPlateau, Schedule, StepDecay
from lstmkit.util.checks import accepts_old_names
from lstmkit.util.container import file_kind, load_tensors, read_raw_metadata, save_tensors

# fp32: exact (the fast path equals the reference cell). bf16: the step runs under torch.autocast in
# bfloat16 (lstmkit.train.precision: only where the CPU has bf16 matrix units, or CUDA); weights,
# gradients, optimizer state and the loss stay float32. auto: bf16 only where it is faster.
PRECISIONS = ("fp32", "bf16", "auto")
KIND_MODEL = "language_model"
KIND_CHECKPOINT = "language_model_checkpoint"  # the previous checkpoint format: still loads, cannot resume
KIND_TRAIN_CHECKPOINT = ckpt_io.KIND
#: what a checkpoint's ``extra`` holds under ``"language_model"``: the version of that entry
LM_EXTRA_VERSION = 1
HOLDOUT_FRACTION = 0.1
LN2 = math.log(2.0)
#: the cosine schedule's final rate, as a fraction of ``learning_rate``
COSINE_FLOOR = 0.05

# What must agree between a checkpoint and a resumed run (epochs/minutes may change: "train longer").
_FIXED_ON_RESUME = ("level", "layers", "units", "embedding_size", "tie_weights", "dropout", "bptt", "batch_size",
                    "learning_rate", "optimizer", "schedule", "clip_norm", "seed", "lr_decay", "decay_start",
                    "eval_batch_size", "precision")
#: Old spellings of LMConfig fields (issue 15): accepted by ``LMConfig(...)``, as attributes, and in saved files.
OLD_NAMES = {"lr": "learning_rate", "clip": "clip_norm"}


@accepts_old_names(OLD_NAMES)
@dataclass
class LMConfig:
    """Training hyper-parameters. ``epochs`` and ``minutes`` are alternatives (``minutes`` wins if set).

    ``lr`` and ``clip`` are the old names of ``learning_rate`` and ``clip_norm``, still accepted
    (``LMConfig(lr=...)``, ``cfg.lr``); giving both names of one setting is a one-line ConfigError.
    """

    level: str = "char"
    layers: int = 2
    units: int = 256
    embedding_size: int | None = None  # None: = units
    tie_weights: bool = True  # decoder shares the embedding (needs embedding_size <= units)
    dropout: float = 0.2
    bptt: int = 128
    batch_size: int = 64
    learning_rate: float | None = None  # None: 2e-3 for adam, 1.0 for sgd
    optimizer: str = "adam"
    schedule: str | None = None  # plateau | cosine | step ; None: cosine with minutes, plateau with epochs
    lr_decay: float = 0.5  # plateau / step factor
    decay_start: int = 4  # step schedule: decay after this many epochs
    clip_norm: float = 5.0
    epochs: int | None = 10
    minutes: float | None = None
    seed: int = 0
    eval_batch_size: int = 10
    threads: int | None = None
    precision: str = "fp32"  # fp32 | bf16 | auto (lstmkit.train.precision; weights and optimizer stay fp32)

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
        if c.learning_rate is None:
            c.learning_rate = 2e-3 if c.optimizer == "adam" else 1.0
        rate = c.learning_rate
        if not isinstance(rate, (int, float)) or not (rate > 0 and math.isfinite(rate)):
            raise ConfigError(f"learning_rate: expected a positive number, found {rate!r}")
        if not isinstance(c.clip_norm, (int, float)) or not c.clip_norm > 0:
            raise ConfigError(f"clip_norm: expected a positive number, found {c.clip_norm!r}")
        if not isinstance(c.lr_decay, (int, float)) or not 0 < c.lr_decay <= 1:
            raise ConfigError(f"lr_decay: expected a number in (0, 1], found {c.lr_decay!r}")
        if c.minutes is not None:
            if not isinstance(c.minutes, (int, float)) or not (c.minutes > 0 and math.isfinite(c.minutes)):
                raise ConfigError(f"minutes: expected a positive number, found {c.minutes!r}")
        elif c.epochs is None or not isinstance(c.epochs, int) or isinstance(c.epochs, bool) or c.epochs < 1:
            raise ConfigError(f"epochs: expected an integer >= 1, found {c.epochs!r}")
        if c.schedule is None:
            c.schedule = "cosine" if c.minutes is not None else "plateau"
        c.precision = check_precision(c.precision, "precision")
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


# ---------------------------------------------------------------------------------------------------- files

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


def _lm_extra(ck: ckpt_io.Checkpoint) -> dict[str, Any]:
    """The language model's entry in an engine checkpoint's ``extra``, checked; one line when it is another task's."""
    path = str(ck.path)
    entry = ck.extra.get("language_model")
    if entry is None:
        raise ModelFileError(
            f"checkpoint {path!r}: is the training checkpoint of another model "
            f"({ck.model_class or 'an unknown class'}), not a language model's (train one with `lstmkit text train-lm`)"
        )
    if not isinstance(entry, dict):
        raise ModelFileError(f"checkpoint {path!r}: metadata field 'extra.language_model': expected a JSON object, "
                             f"found {type(entry).__name__}")
    version = entry.get("version")
    if version != LM_EXTRA_VERSION:
        raise ModelFileError(f"checkpoint {path!r}: metadata field 'extra.language_model.version': expected "
                             f"{LM_EXTRA_VERSION}, found {version!r} (written by another lstmkit version)")
    for key in ("config", "model", "vocabulary"):
        if not isinstance(entry.get(key), dict):
            raise ModelFileError(f"checkpoint {path!r}: metadata field 'extra.language_model.{key}': expected a JSON "
                                 f"object, found {type(entry.get(key)).__name__}")
    if not isinstance(entry.get("train_sha256"), str):
        raise ModelFileError(f"checkpoint {path!r}: metadata field 'extra.language_model.train_sha256': expected a "
                             f"string, found {type(entry.get('train_sha256')).__name__}")
    return entry


def _checkpoint_as_model_file(path: Any) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """An engine checkpoint of a language model seen as a model file: (``model.*`` tensors, metadata)."""
    ck = ckpt_io.load(path)
    entry = _lm_extra(ck)
    tensors = {f"model.{k}": v for k, v in ck.group("model").items()}
    net = entry["model"].get("config")
    if isinstance(net, dict) and net.get("tie_weights", True) is True:
        tensors.pop("model.decoder.weight", None)  # the embedding, saved twice by the state dict
    meta = {"kind": KIND_TRAIN_CHECKPOINT, "config": json.dumps(entry["model"]),
            "vocabulary": json.dumps(entry["vocabulary"]),
            "training": json.dumps({"config": entry["config"], "position": ck.position,
                                    "history": ck.training["history"]})}
    return tensors, meta


def load_language_model(path: str | os.PathLike[str]) -> tuple[LanguageModel, Vocabulary, dict[str, str],
                                                                    dict[str, torch.Tensor]]:
    """Model, vocabulary, raw metadata and all tensors of a model or checkpoint file; wrong kinds are named.

    Reads model files (``language_model``), the engine's checkpoints of a language model
    (``train_checkpoint``) and checkpoints of the previous format (``language_model_checkpoint``).
    """
    kind = file_kind(read_raw_metadata(path))
    if kind == KIND_TRAIN_CHECKPOINT:
        tensors, meta = _checkpoint_as_model_file(path)
    else:
        tensors, meta = load_tensors(path)
    if kind not in (KIND_MODEL, KIND_CHECKPOINT, KIND_TRAIN_CHECKPOINT):
        raise ModelFileError(
            f"model file {str(path)!r}: is {_describe_kind(meta)}, not a language model "
            f"(train one with `lstmkit text train-lm`)"
        )
    from lstmkit.util.schema import FileSchema

    what = "model file" if kind == KIND_MODEL else "checkpoint"
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
    s.recurrent_layers(tensors, "model.lstm.", "config.config.num_layers", net["num_layers"])
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
_CLI_OPTIONS = {"tie_weights": "--tie/--no-tie", "eval_batch_size": "eval_batch_size", "learning_rate": "--lr",
                "clip_norm": "--clip"}


def resume_option(name: str) -> str:
    """How a user sets LMConfig field ``name`` on the command line (``units`` -> ``--units``)."""
    return _CLI_OPTIONS.get(name, "--" + name.replace("_", "-"))


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[ckpt_io.Checkpoint, dict[str, Any]]:
    """A language model's training checkpoint, checked, and its saved settings (an :class:`LMConfig` as a dict,
    under the current field names: a checkpoint written before issue 15 says ``lr`` and ``clip``).

    Every problem is one line that names the file: none there (``resume: no checkpoint ...``), a
    truncated, corrupted or foreign file, a checkpoint of another model, or one of the previous
    format (kind ``language_model_checkpoint``), which this version reads for generation but
    cannot resume. Nothing is written.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise ConfigError(f"resume: no checkpoint {str(path)!r} to resume from (train without --resume first)")
    kind = file_kind(read_raw_metadata(path, what="checkpoint"))
    if kind == KIND_CHECKPOINT:
        raise ModelFileError(
            f"checkpoint {str(path)!r}: written by an older lstmkit (kind {KIND_CHECKPOINT!r}), which this version "
            f"cannot resume; `lstmkit text generate` still reads it; to train on, run without --resume (a new run "
            f"overwrites it) or give another --output"
        )
    ck = ckpt_io.load(path)
    entry = _lm_extra(ck)
    saved = dict(entry["config"])
    for old, new in OLD_NAMES.items():  # checkpoints written before issue 15 say lr / clip
        if old in saved and new not in saved:
            saved[new] = saved.pop(old)
    unknown = sorted(set(saved) - {f.name for f in fields(LMConfig)} - set(OLD_NAMES))
    if unknown:
        raise ModelFileError(f"checkpoint {str(path)!r}: metadata field 'extra.language_model.config.{unknown[0]}': "
                             f"expected an LMConfig field, found an unknown key")
    try:
        LMConfig(**saved).resolved()
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"checkpoint {str(path)!r}: metadata field 'extra.language_model.config' is invalid "
                             f"({' '.join(str(e).split())})"[:400]) from None
    return ck, dict(saved)


# ---------------------------------------------------------------------------------------------------- training

def evaluate(model: LanguageModel, data: torch.Tensor, bptt: int, batch_size: int = 10) -> float:
    """Mean cross-entropy in nats per token of ``data`` (1-D ids), streams of ``batch_size`` with carried state."""
    batch_size = max(1, min(batch_size, data.numel() // 2))
    streams = batchify(data, batch_size)
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    hidden = model.init_hidden(batch_size)
    with torch.no_grad():
        for index in range(num_windows(streams, bptt)):
            x, y = bptt_window(streams, index, bptt)
            logits, hidden = model(x, hidden)
            total += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum")
            count += y.numel()
    model.train(was_training)
    return float(total) / max(count, 1)


def make_schedule(cfg: "LMConfig") -> Schedule:
    """The engine schedule for ``cfg.schedule`` (see the module docstring); ``cfg`` must be resolved."""
    if cfg.schedule == "plateau":  # x lr_decay after an epoch whose validation loss did not improve by 1e-4
        return ReduceOnPlateau(monitor="val_loss", factor=cfg.lr_decay, patience=1, min_delta=1e-4)
    if cfg.schedule == "step":  # x lr_decay after every epoch from decay_start on
        return StepDecay(factor=cfg.lr_decay, start_epoch=cfg.decay_start)
    if cfg.schedule == "cosine":  # lr -> COSINE_FLOOR * lr over the time budget
        return Cosine(floor=COSINE_FLOOR, over="time")
    return Constant()


def window_batches(streams: torch.Tensor, bptt: int) -> FunctionBatches:
    """Batch ``i`` of every epoch is BPTT window ``i`` of ``streams`` ``(T, N)``; process ``rank`` of ``world``
    gets its contiguous share of the ``N`` streams (so each process carries the state of its own streams)."""
    def window(epoch: int, index: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = bptt_window(streams, index, bptt)
        if world > 1:
            x, y = torch.tensor_split(x, world, dim=1)[rank], torch.tensor_split(y, world, dim=1)[rank]
        return x, y

    return FunctionBatches(window, num_windows(streams, bptt))


def local_streams(batch_size: int, rank: int, world: int) -> int:
    """How many of ``batch_size`` streams process ``rank`` of ``world`` holds (``torch.tensor_split``'s sizes)."""
    return batch_size // world + (1 if rank < batch_size % world else 0)


def lm_step(model: LanguageModel, batch: tuple[torch.Tensor, torch.Tensor], carry: Any) -> StepOutput:
    """One TBPTT window: mean cross-entropy per token, weighted by the tokens, the new ``(h, c)`` as the carry."""
    x, y = batch
    logits, (h, c) = model(x, carry)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
    return StepOutput(loss, y.numel(), carry=(h.float(), c.float()))


class _Report(Hooks):
    """One line per epoch (and every ``log_every`` steps) to ``say``; the caller's ``on_step(step)``."""

    def __init__(self, say: Callable[[str], None], level: str, windows: int,
                 on_step: Callable[[int], bool | None] | None, log_every: int) -> None:
        self.say, self.level, self.windows = say, level, windows
        self.user_step, self.log_every = on_step, log_every
        self.started = time.perf_counter()
        self.loss_sum: Any = None
        self.loss_steps = 0

    def on_epoch_begin(self, state: TrainState) -> None:
        self.started = time.perf_counter()

    def on_step(self, state: TrainState) -> bool | None:
        if self.log_every and state.loss is not None:
            loss = state.loss  # an on-device scalar: read back only when a line is printed
            self.loss_sum = loss if self.loss_sum is None else self.loss_sum + loss
            self.loss_steps += 1
            if state.step % self.log_every == 0:
                mean = float(self.loss_sum) / self.loss_steps
                self.loss_sum, self.loss_steps = None, 0
                self.say(f"  step {state.step} (epoch {state.epoch + 1}, {state.batch}/{self.windows}): train "
                         f"{mean:.4f} nats/token, lr {state.lr:.3g}, {state.elapsed:.0f} s")
        if self.user_step is not None and self.user_step(state.step):
            return True
        return None

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> bool | None:
        self.say(f"epoch {state.epoch + 1}: train {logs['loss']:.4f} nats/token, valid "
                 f"{metric_text(logs['val_loss'], self.level)}, lr {state.lr:.3g}, "
                 f"{time.perf_counter() - self.started:.1f} s")
        return None


@dataclass
class LMRun:
    """A run checked and ready (:func:`prepare_run`): settings, files, data and the checkpoint to resume."""

    config: LMConfig
    output: Path
    checkpoint: Path
    data: LMData
    streams: torch.Tensor  # (steps, batch_size)
    windows: int
    precision: str  # resolved: fp32 or bf16
    resume_from: ckpt_io.Checkpoint | None


def prepare_run(train_path: str | os.PathLike[str], output: str | os.PathLike[str], config: LMConfig | None = None,
                *, valid_path: str | os.PathLike[str] | None = None, resume: bool = False, encoding: str = "utf-8",
                world: int | None = None) -> LMRun:
    """Every check a training run makes before it trains, in order; each failure is one line and nothing is written.

    The settings; the precision on this machine (``bf16`` without bf16 units is refused); that the
    model file and the checkpoint can be written; with ``resume``, the checkpoint (its kind, format,
    checksums, schema) and that the settings, the number of processes and the training file agree
    with it; the data. ``world``: the number of processes (default: this run's).
    """
    cfg = (config or LMConfig()).resolved()
    precision = resolve_precision(cfg.precision, "cpu")
    if world is None:
        world = dist.world_size() if dist.is_initialized() else dist.env_world_size()
    from lstmkit.util.files import prepare_output

    # Both files are checked before any training, so an unwritable --output is not found at the end.
    output = prepare_output(output, "model.lstmkit")
    ckpt_path = checkpoint_path(output)
    prepare_output(ckpt_path, "model.lstmkit.ckpt", name="checkpoint")
    ck: ckpt_io.Checkpoint | None = None
    vocab = None
    if resume:
        ck, saved_dict = read_checkpoint(ckpt_path)
        saved = LMConfig(**saved_dict).resolved()
        for name in _FIXED_ON_RESUME:
            if getattr(saved, name) != getattr(cfg, name):
                opt = resume_option(name)
                raise ConfigError(
                    f"resume: {opt} was {getattr(saved, name)!r} in {str(ckpt_path)!r}, found {getattr(cfg, name)!r} "
                    f"(a resumed run must use the checkpoint's settings; leave {opt} out to take its value)"
                )
        saved_world = ck.fingerprint.get("world_size", 1)
        if saved_world != world:
            raise ConfigError(f"resume: --nproc was {saved_world} in {str(ckpt_path)!r}, found {world} "
                              f"(a resumed run must use the checkpoint's number of processes)")
        try:
            vocab = Vocabulary.from_config(_lm_extra(ck)["vocabulary"])
        except ConfigError as e:
            raise ModelFileError(f"checkpoint {str(ckpt_path)!r}: metadata field 'extra.language_model.vocabulary' "
                                 f"is invalid ({e})") from None
    data = prepare_data(train_path, valid_path, cfg.level, encoding, vocab)
    if ck is not None and _lm_extra(ck)["train_sha256"] != data.train_sha256:
        raise DataError(f"resume: training file {str(train_path)!r} differs from the one {str(ckpt_path)!r} "
                        f"was trained on")
    streams = batchify(data.train, cfg.batch_size)
    if world > cfg.batch_size:
        raise ConfigError(f"--nproc: {world} processes need at least {world} streams, found --batch-size "
                          f"{cfg.batch_size} (lower --nproc or raise --batch-size)")
    return LMRun(cfg, output, ckpt_path, data, streams, num_windows(streams, cfg.bptt), precision, ck)


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
    """Train a language model with truncated BPTT through :class:`lstmkit.train.Trainer`; see the module docstring.

    ``on_step(global_step)`` is called after each optimizer step; returning True stops the run like
    Ctrl-C (checkpoint, then return with ``interrupted=True``). ``echo`` gets one line per epoch (and
    one every ``log_every`` steps). Under ``torchrun`` (``lstmkit text train-lm --nproc N``) every
    process trains its share of the streams; only rank 0 writes the files and calls ``echo``.
    """
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 0:
        raise ConfigError(f"log_every: expected an integer >= 0, found {log_every!r}")
    if on_step is not None and not callable(on_step):
        raise ConfigError(f"on_step: expected a function, found {type(on_step).__name__}")
    dist.init_from_env()
    rank, world = dist.rank(), dist.world_size()
    main = rank == 0
    say = (echo or (lambda s: None)) if main else (lambda s: None)
    run = prepare_run(train_path, output, config, valid_path=valid_path, resume=resume, encoding=encoding, world=world)
    cfg, data = run.config, run.data

    # Seed before building the model, so initial weights depend only on the seed (in every process).
    import random

    import numpy as np

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = LanguageModel(len(data.vocab), cfg.embedding_size, cfg.units, cfg.layers, cfg.dropout,
                          tie_weights=cfg.tie_weights)
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate)
    if world > 1:  # the engine gives every process rank 0's weights; dropout masks differ per process
        torch.manual_seed(epoch_seed(cfg.seed, rank))
    streams_here = local_streams(cfg.batch_size, rank, world)

    def init_carry(epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return model.init_hidden(streams_here)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        return {"val_loss": evaluate(m, data.valid, cfg.bptt, cfg.eval_batch_size)}

    if run.resume_from is not None:
        pos = run.resume_from.position
        say(f"resumed from {run.checkpoint} at epoch {pos['epoch'] + 1}, step {pos['batch']} of {run.windows}")
    extra = {"language_model": {
        "version": LM_EXTRA_VERSION, "config": asdict(cfg),
        "model": {"class_name": "LanguageModel", "config": model.get_config()},
        "vocabulary": data.vocab.get_config(), "train_sha256": data.train_sha256,
    }}
    # learning_rate, optimizer, schedule, clip_norm and precision are left to the engine's own fingerprint
    fingerprint = {name: getattr(cfg, name) for name in _FIXED_ON_RESUME
                   if name not in ("learning_rate", "optimizer", "schedule", "clip_norm", "precision")}
    fingerprint.update(lm_schedule=cfg.schedule, train_sha256=data.train_sha256, vocab_size=len(data.vocab))
    train_config = TrainConfig(
        epochs=None if cfg.minutes is not None else cfg.epochs, minutes=cfg.minutes,
        clip_norm=float(cfg.clip_norm), learning_rate=float(cfg.learning_rate), schedule=make_schedule(cfg),
        precision=run.precision, checkpoint=run.checkpoint,
        checkpoint_at_epoch_end=True, resume=resume, threads=cfg.threads, verbose=0,
    )
    trainer = Trainer(model, opt, lm_step, window_batches(run.streams, cfg.bptt), train_config, evaluate=validate,
                      init_carry=init_carry, hooks=[_Report(say, cfg.level, run.windows, on_step, log_every)],
                      fingerprint=fingerprint, extra=extra)
    result = trainer.fit()

    state = trainer.state
    history = [EpochRecord(int(h["epoch"]), float(h["loss"]), float(h.get("val_loss", math.nan)), float(h["lr"]),
                           float(h["seconds"])) for h in result.history]
    val_loss = result.final_logs.get("val_loss")
    out: Path | None = None
    if result.interrupted:
        say(f"interrupted at epoch {state.epoch + 1}, step {state.batch} of {run.windows}: checkpoint saved to "
            f"{run.checkpoint}")
        if val_loss is None:
            val_loss = history[-1].val_loss if history else math.nan
    else:
        if val_loss is None:  # every finished run has evaluated at its end; this is a safety net
            val_loss = evaluate(model, data.valid, cfg.bptt, cfg.eval_batch_size)
        if result.stop_reason == "time" and state.batch > 0:
            say(f"time budget reached in epoch {state.epoch + 1} ({state.batch}/{run.windows} steps): train "
                f"{result.final_logs.get('loss', math.nan):.4f} nats/token, valid {metric_text(val_loss, cfg.level)}")
        if main:
            save_language_model(run.output, model, data.vocab, {
                "config": asdict(cfg), "val_loss": val_loss, "epochs": result.epochs_completed, "steps": result.steps,
            })
        out = run.output
    return LMResult(
        output=out, checkpoint=run.checkpoint, level=cfg.level, vocab_size=len(data.vocab),
        train_tokens=int(data.train.numel()), valid_tokens=int(data.valid.numel()),
        epochs_completed=result.epochs_completed, steps=result.steps, val_loss=float(val_loss), seconds=result.elapsed,
        interrupted=result.interrupted, stopped_by_time=result.stop_reason == "time", history=history,
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
    "LMConfig", "LMResult", "EpochRecord", "LMData", "LMRun", "prepare_data", "prepare_run", "train_language_model",
    "evaluate", "evaluate_file", "LanguageModelGenerator", "load_language_model", "save_language_model",
    "read_checkpoint", "checkpoint_path", "metric_text", "make_schedule", "window_batches", "local_streams", "lm_step",
    "resume_option", "KIND_MODEL", "KIND_CHECKPOINT", "KIND_TRAIN_CHECKPOINT", "HOLDOUT_FRACTION", "PRECISIONS",
]
