r"""Long-range memory benchmarks: the adding problem and the copy-memory task.

Both tasks put the information a model needs ``T`` steps before it is asked for it, so a model
that cannot carry memory over ``T`` steps stays at the *chance baseline*: the best it can do
without looking back.

**Adding problem** (Le, Jaitly & Hinton, 2015). Input ``x`` is ``(T, N, 2)``: channel 0 holds
values ``v_t ~ U[0, 1]``, channel 1 is a marker that is 1 at exactly two steps, ``a`` drawn
uniformly from the first half ``[0, T//2)`` and ``b`` from the second half ``[T//2, T)``. The
target is ``y = v_a + v_b``; the model reads out once, after the last step; the loss is the mean
squared error. Predicting the constant ``1.0`` (the mean of ``y``) scores
``Var(v_a + v_b) = 2/12 = 1/6 ~ 0.167``: the chance baseline.

**Copy-memory task** (Arjovsky, Shah & Bengio, 2016). The input is ``T + 20`` symbols, one-hot
over 10 classes (0 blank, 1..8 the categories, 9 the delimiter)::

    input : s_1 .. s_10   0 x (T-1)   9   0 x 10
    target: 0 x (T + 10)                  s_1 .. s_10

with ``s_i`` uniform over the 8 categories. The model predicts one of 9 classes (blank or a
category) at every step; the loss is the cross-entropy averaged over all ``T + 20`` steps. A
memoryless model predicts blanks for the first ``T + 10`` steps and guesses uniformly at the last
10, scoring ``10 ln 8 / (T + 20)`` (the chance baseline) and symbol accuracy ``1/8``.

**Models** (:func:`build_model`): ``rnn`` (Elman SimpleRNN, tanh), ``gru``, ``lstm`` (forget-gate
bias 1 by default; ``forget_bias="chrono"`` gives the chrono initialisation of Tallec & Ollivier
2018 with ``T_max`` the sequence length, see :mod:`lstmkit.nn.initializers`) and ``transformer`` (causal, sinusoidal positions, ``nhead = 4``, 2 layers,
``dim_feedforward = 4 d``), each followed by a Linear readout. :func:`matched_sizes` picks the
other models' sizes by search so that their parameter counts are as close as possible to the
LSTM's (readout included).

**Training** (:func:`train_run`) goes through the one engine, :class:`lstmkit.train.Trainer`:
fresh random batches from a seeded generator every step (a :class:`lstmkit.train.FunctionBatches`
over one stream per task and length, the same for every model), Adam, gradient-norm clipping,
the engine's schedules (:class:`~lstmkit.train.Cosine` for warm-up and cosine decay), an optional
curriculum over length, ``fp32``/``bf16``/``auto`` precision and ``torchrun`` data parallelism;
the budget is the engine's ``max_steps`` or ``minutes`` of training time (evaluation not counted).
The learning curve comes from the engine's ``on_step``/``on_eval`` hooks, every ``eval_every``
steps and at the end. Evaluation uses one fixed test set per task and length, seeded
independently of ``seed``.

Tensors are sequence-first: inputs ``(L, N, C)``; the recurrent models run PyTorch's fused
kernels (no Python loop over steps).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.bench.report import (MODEL_STYLE, Report, csv_text, environment, markdown_header, markdown_table,
                                  pyplot)
from lstmkit.errors import ConfigError
from lstmkit.util.checks import accepts_old_names, check_int

TASK_NAMES = ("adding", "copy")
MODEL_NAMES = ("rnn", "gru", "lstm", "transformer")
TRANSFORMER_HEADS = 4
TRANSFORMER_LAYERS = 2
TEST_SEED = 2016  # the test sets depend on the task and length only, not on --seed
SOLVED_MSE = 0.01  # the "solves adding" threshold
SOLVED_ACCURACY = 0.99  # the "copies" threshold
CHRONO = "chrono"  # forget_bias value: chrono initialisation over the sequence length
BACKEND = "gloo"  # the models train on the CPU: a torchrun run joins a gloo process group even where CUDA exists

Echo = Callable[[str], None]


def _stream_seed(*parts: object) -> int:
    """A stable 63-bit seed from ``parts`` (independent of Python's hash randomisation)."""
    key = "|".join(str(p) for p in parts).encode()
    return (zlib.crc32(key) << 31 | zlib.crc32(key[::-1])) & (2**63 - 1)


def generator(*parts: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``parts``."""
    g = torch.Generator()
    g.manual_seed(_stream_seed(*parts))
    return g


# ---- tasks ------------------------------------------------------------------------------------


class AddingProblem:
    """Adding problem: ``sample`` gives ``x (T, N, 2)`` and ``y (N,)``; predictions are ``(N, 1)``."""

    name = "adding"
    input_size = 2
    output_size = 1
    readout = "last"  # the model reads out after the last step only
    min_length = 2  # one marker in each half
    metric = "mse"
    metric_label = "test MSE"
    metrics = ("mse",)

    def sequence_length(self, length: int) -> int:
        return length

    def sample(self, batch: int, length: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        values = torch.rand(length, batch, generator=gen)
        half = length // 2
        first = torch.randint(0, half, (batch,), generator=gen)
        second = torch.randint(half, length, (batch,), generator=gen)
        cols = torch.arange(batch)
        markers = torch.zeros(length, batch)
        markers[first, cols] = 1.0
        markers[second, cols] = 1.0
        x = torch.stack([values, markers], dim=2)
        y = values[first, cols] + values[second, cols]
        return x, y

    def loss(self, pred: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
        return F.mse_loss(pred.squeeze(-1), y.to(pred.dtype), reduction=reduction)

    def sums(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        return {"se": float(self.loss(pred, y, "sum")), "n": y.numel()}

    def finish(self, sums: dict[str, float]) -> dict[str, float]:
        return {"mse": sums["se"] / sums["n"]}

    def baseline(self, length: int) -> dict[str, float]:
        return {"mse": 1.0 / 6.0}

    def data_baseline(self, y: Tensor) -> dict[str, float]:
        """The best input-blind predictor fitted on the data themselves: the constant mean of ``y``."""
        return {"mse": float(((y - y.mean()) ** 2).mean())}

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["mse"] < SOLVED_MSE


class CopyMemory:
    """Copy-memory: ``x (T+20, N, 10)`` one-hot, ``y (T+20, N)`` class ids in ``0..8``; predictions ``(T+20, N, 9)``."""

    name = "copy"
    symbols = 10
    categories = 8
    delimiter = 9
    input_size = 10
    output_size = 9
    readout = "all"
    min_length = 1
    metric = "cross_entropy"
    metric_label = "test cross-entropy (all T+20 steps)"
    metrics = ("cross_entropy", "symbol_accuracy", "symbol_cross_entropy")

    def sequence_length(self, length: int) -> int:
        return length + 2 * self.symbols

    def sample(self, batch: int, length: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        k = self.symbols
        symbols = torch.randint(1, self.categories + 1, (k, batch), generator=gen)
        ids = torch.zeros(length + 2 * k, batch, dtype=torch.long)
        ids[:k] = symbols
        ids[k + length - 1] = self.delimiter
        y = torch.zeros(length + 2 * k, batch, dtype=torch.long)
        y[length + k :] = symbols
        return F.one_hot(ids, self.input_size).to(torch.get_default_dtype()), y

    def loss(self, pred: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
        return F.cross_entropy(pred.reshape(-1, pred.size(-1)), y.reshape(-1), reduction=reduction)

    def sums(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        k = self.symbols
        out_pred, out_y = pred[-k:], y[-k:]
        return {
            "ce": float(self.loss(pred, y, "sum")),
            "n": y.numel(),
            "symbol_ce": float(self.loss(out_pred, out_y, "sum")),
            "correct": int((out_pred.argmax(-1) == out_y).sum()),
            "n_symbols": out_y.numel(),
        }

    def finish(self, sums: dict[str, float]) -> dict[str, float]:
        return {
            "cross_entropy": sums["ce"] / sums["n"],
            "symbol_accuracy": sums["correct"] / sums["n_symbols"],
            "symbol_cross_entropy": sums["symbol_ce"] / sums["n_symbols"],
        }

    def baseline(self, length: int) -> dict[str, float]:
        ln8 = math.log(self.categories)
        return {
            "cross_entropy": self.symbols * ln8 / (length + 2 * self.symbols),
            "symbol_accuracy": 1.0 / self.categories,
            "symbol_cross_entropy": ln8,
        }

    def data_baseline(self, y: Tensor) -> dict[str, float]:
        """The best input-blind predictor fitted on the data: each step's class frequencies in ``y``."""
        counts = F.one_hot(y, self.output_size).sum(dim=1).to(torch.float64)  # (L, C)
        freq = counts / y.size(1)
        log_freq = torch.where(counts > 0, freq.log(), torch.zeros_like(freq))
        ce_per_step = -(freq * log_freq).sum(dim=1)  # (L,)
        k = self.symbols
        return {
            "cross_entropy": float(ce_per_step.mean()),
            "symbol_accuracy": float(counts[-k:].max(dim=1).values.sum() / (k * y.size(1))),
            "symbol_cross_entropy": float(ce_per_step[-k:].mean()),
        }

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["symbol_accuracy"] >= SOLVED_ACCURACY


Task = AddingProblem | CopyMemory


def make_task(name: str) -> Task:
    """``"adding"`` or ``"copy"``."""
    if name == "adding":
        return AddingProblem()
    if name == "copy":
        return CopyMemory()
    raise ConfigError(f"task: expected one of {', '.join(TASK_NAMES)}, found {name!r}")


# ---- models -----------------------------------------------------------------------------------


class BenchModel(nn.Module):
    """A sequence model plus a Linear readout; ``forward(x (L, N, C))`` gives ``(N, out)`` or ``(L, N, out)``.

    ``size`` is the hidden size (``d_model`` for the transformer); ``feedforward`` the transformer's
    ``dim_feedforward`` (default ``4 * size``); ``forget_bias`` the LSTM's initial forget-gate bias,
    or ``"chrono"`` for the chrono initialisation with ``T_max = max_len`` (other models ignore it).
    """

    def __init__(
        self, kind: str, size: int, input_size: int, output_size: int, readout: str, max_len: int = 1,
        feedforward: int | None = None, forget_bias: float | str = 1.0,
    ) -> None:  # fmt: skip
        super().__init__()
        from lstmkit.nn import GRU, LSTM, SimpleRNN, TransformerEncoder

        self.kind, self.size, self.readout = kind, size, readout
        if kind == "rnn":
            self.backbone = SimpleRNN(input_size, size)
        elif kind == "gru":
            self.backbone = GRU(input_size, size)
        elif kind == "lstm":
            chrono = forget_bias == CHRONO
            self.backbone = LSTM(input_size, size, forget_bias=1.0 if chrono else float(forget_bias))
            if chrono:  # the longest dependency a sequence can hold is its length
                self.backbone.chrono_init_(max(3, max_len))
        elif kind == "transformer":
            self.backbone = TransformerEncoder(
                input_size, d_model=size, nhead=TRANSFORMER_HEADS, num_layers=TRANSFORMER_LAYERS,
                dim_feedforward=feedforward, max_len=max_len,
            )  # fmt: skip
        else:
            raise ConfigError(f"model: expected one of {', '.join(MODEL_NAMES)}, found {kind!r}")
        self.head = nn.Linear(size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.backbone(x)
        if self.readout == "last":
            out = out[-1]
        return self.head(out)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@dataclass(frozen=True)
class ModelSize:
    """A model's size: ``size`` units (``d_model`` for the transformer, with ``feedforward`` units)."""

    model: str
    size: int
    params: int
    ratio: float = 1.0  # params / the LSTM's
    feedforward: int | None = None

    def describe(self) -> str:
        if self.model == "transformer":
            return f"d_model {self.size}, feed-forward {self.feedforward}, {TRANSFORMER_HEADS} heads, {TRANSFORMER_LAYERS} layers"
        return f"{self.size} units"


def build_model(spec: ModelSize, task: Task, length: int = 1, forget_bias: float | str = 1.0) -> BenchModel:
    """The model of ``spec`` for ``task`` at ``length`` (the transformer's ``max_len`` covers it)."""
    return BenchModel(
        spec.model, spec.size, task.input_size, task.output_size, task.readout, task.sequence_length(length),
        feedforward=spec.feedforward, forget_bias=forget_bias,
    )  # fmt: skip


def _closest(params: Callable[[int], int], target: int, step: int = 1) -> int:
    """The multiple ``u`` of ``step`` whose ``params(u)`` (increasing in ``u``) is closest to ``target``."""
    low, high = 1, 1  # in multiples of step
    while params(high * step) < target:
        low, high = high, high * 2
    while low < high:  # the smallest multiple with params >= target
        mid = (low + high) // 2
        if params(mid * step) >= target:
            high = mid
        else:
            low = mid + 1
    candidates = [u * step for u in (high - 1, high) if u >= 1]
    return min(candidates, key=lambda u: abs(params(u) - target))


def model_size(kind: str, size: int, task: Task, feedforward: int | None = None, target: int | None = None) -> ModelSize:
    if kind == "transformer" and feedforward is None:
        feedforward = 4 * size
    n = count_parameters(BenchModel(kind, size, task.input_size, task.output_size, task.readout, feedforward=feedforward))
    return ModelSize(kind, size, n, n / target if target else 1.0, feedforward)


def matched_size(kind: str, target: int, task: Task) -> ModelSize:
    """The size of ``kind`` whose parameter count is closest to ``target``.

    Recurrent models: the hidden size. Transformer: ``d_model`` (a multiple of the head count, with
    ``dim_feedforward = 4 d``), then ``dim_feedforward`` to close the remaining gap.
    """
    if kind != "transformer":
        return model_size(kind, _closest(lambda u: model_size(kind, u, task).params, target), task, target=target)
    d = _closest(lambda u: model_size(kind, u, task).params, target, step=TRANSFORMER_HEADS)
    ff = _closest(lambda f: model_size(kind, d, task, feedforward=f).params, target)
    return model_size(kind, d, task, feedforward=ff, target=target)


def matched_sizes(models: Sequence[str], task: Task, lstm_hidden: int) -> dict[str, ModelSize]:
    """Every model's size, with parameter counts matched to an LSTM of ``lstm_hidden`` units."""
    check_models(models)
    target = model_size("lstm", lstm_hidden, task).params
    return {
        kind: model_size("lstm", lstm_hidden, task) if kind == "lstm" else matched_size(kind, target, task)
        for kind in models
    }


# ---- argument checks --------------------------------------------------------------------------


def check_hidden_fits(task: Task, hidden: int, batch_size: int, lengths: Iterable[int], option: str = "--hidden") -> None:
    """A one-line ConfigError naming ``option`` when an LSTM of ``hidden`` units cannot be trained in memory.

    The other models are matched to the LSTM's parameter count, so the LSTM's size decides for all.
    """
    from lstmkit.util.memory import check_training_fits, lstm_params

    longest = max((task.sequence_length(n) for n in lengths), default=1)
    check_training_fits(option, hidden, lstm_params(task.input_size, hidden) + hidden * task.output_size,
                        activation_floats=6 * int(batch_size) * longest * hidden)


def check_models(models: Sequence[str]) -> list[str]:
    models = list(models)
    if not models:
        raise ConfigError(f"--models: expected at least one of {', '.join(MODEL_NAMES)}, found none")
    for m in models:
        if m not in MODEL_NAMES:
            raise ConfigError(f"--models: expected names among {', '.join(MODEL_NAMES)}, found {m!r}")
    if len(set(models)) != len(models):
        raise ConfigError(f"--models: each model at most once, found {','.join(models)}")
    return models


def check_lengths(lengths: Iterable[int], task: Task, option: str = "--lengths") -> list[int]:
    lengths = list(lengths)
    if not lengths:
        raise ConfigError(f"{option}: expected at least one sequence length, found none")
    for T in lengths:
        if isinstance(T, bool) or not isinstance(T, int) or T < task.min_length:
            raise ConfigError(f"{option}: expected integers >= {task.min_length} for the {task.name} task, found {T!r}")
    if len(set(lengths)) != len(lengths):
        raise ConfigError(f"{option}: each length at most once, found {','.join(map(str, lengths))}")
    return sorted(lengths)


def parse_forget_bias(value: object) -> float | str:
    """``--forget-bias``: a finite number, or ``chrono``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == CHRONO:
            return CHRONO
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"--forget-bias: expected a number or 'chrono', found {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"--forget-bias: expected a number or 'chrono', found {value!r}")
    return float(value)


def describe_forget_bias(forget_bias: float | str) -> str:
    if forget_bias == CHRONO:
        return "LSTM chrono initialisation (T_max = sequence length)"
    return f"LSTM forget-gate bias {forget_bias:g}"


def parse_list(text: str, option: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty item is a ConfigError naming ``option``."""
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(not s for s in items):
        raise ConfigError(f"{option}: expected a comma-separated list, found {text!r}")
    return items


def parse_lengths(text: str) -> list[int]:
    """``"50,100"`` -> ``[50, 100]``; a non-integer item is a ConfigError."""
    lengths = []
    for item in parse_list(text, "--lengths"):
        try:
            lengths.append(int(item))
        except ValueError:
            raise ConfigError(f"--lengths: expected comma-separated integers, found {item!r}") from None
    return lengths


# ---- training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Train for ``steps`` optimizer steps or for ``minutes`` of training time (exactly one)."""

    steps: int | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.minutes is None):
            raise ConfigError(f"budget: give exactly one of --steps and --minutes, found steps={self.steps}, minutes={self.minutes}")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1):
            raise ConfigError(f"--steps: expected an integer >= 1, found {self.steps!r}")
        if self.minutes is not None and not (isinstance(self.minutes, (int, float)) and 0 < self.minutes < math.inf):
            raise ConfigError(f"--minutes: expected a number > 0, found {self.minutes!r}")

    def progress(self, step: int, seconds: float) -> float:
        """Fraction of the budget used, in ``[0, 1]``."""
        p = step / self.steps if self.steps is not None else seconds / (60.0 * self.minutes)
        return min(1.0, p)

    def done(self, step: int, seconds: float) -> bool:
        return self.progress(step, seconds) >= 1.0

    def describe(self) -> str:
        return f"{self.steps} steps" if self.steps is not None else f"{self.minutes:g} minutes of training"


SCHEDULES = ("constant", "cosine")


#: Old spellings of TrainSettings fields (issue 15), still accepted; config.json keeps them as its keys.
OLD_SETTING_NAMES = {"lr": "learning_rate", "clip": "clip_norm"}


@accepts_old_names(OLD_SETTING_NAMES)
@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by every run of a benchmark.

    ``learning_rate`` (Adam's) and ``clip_norm`` (gradient-norm clipping; ``lr`` and ``clip`` are
    their old names, still accepted: both names of one setting are a one-line ConfigError).
    ``schedule``: ``constant`` or ``cosine`` (decay from ``learning_rate`` to a tenth of it over the budget);
    ``warmup``: linear warm-up over that many first steps (0: none); both are the engine's
    schedules (:meth:`lr_schedule`). ``curriculum``: the training
    length grows linearly from ``min(curriculum_start, T)`` to ``T`` over the first
    ``curriculum_fraction`` of the budget, in steps of ``T/20``; evaluation is always at ``T``.
    ``forget_bias``: the LSTM's initial forget-gate bias, or ``"chrono"`` (chrono initialisation,
    ``T_max`` = the sequence length); the other models ignore it. ``precision``: ``fp32``,
    ``bf16`` or ``auto`` (:mod:`lstmkit.train.precision`; ``bf16`` where this CPU cannot run it is
    a one-line ConfigError naming ``--precision``, raised here, before any training).
    """

    batch_size: int = 64
    learning_rate: float = 1e-3
    clip_norm: float = 1.0
    schedule: str = "constant"
    warmup: int = 0
    curriculum: bool = False
    curriculum_start: int = 50
    curriculum_fraction: float = 0.5
    eval_every: int = 250
    test_size: int = 512
    threads: int = 1
    forget_bias: float | str = 1.0
    precision: str = "fp32"

    def __post_init__(self) -> None:
        from lstmkit.train.precision import check_precision, resolve_precision

        object.__setattr__(self, "forget_bias", parse_forget_bias(self.forget_bias))
        object.__setattr__(self, "precision", check_precision(self.precision, "--precision"))
        resolve_precision(self.precision, "cpu", name="--precision")  # bf16 without bf16 units: fail now
        check_int("--batch-size", self.batch_size, 1)
        check_int("--warmup", self.warmup, 0)
        check_int("--curriculum-start", self.curriculum_start, 1)
        check_int("--eval-every", self.eval_every, 1)
        check_int("--test-size", self.test_size, 1)
        check_int("--threads", self.threads, 1)
        for name, value in (("--lr", self.learning_rate), ("--clip", self.clip_norm)):
            if not (isinstance(value, (int, float)) and 0 < value < math.inf):
                raise ConfigError(f"{name}: expected a number > 0, found {value!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"--schedule: expected one of {', '.join(SCHEDULES)}, found {self.schedule!r}")
        if not 0 < self.curriculum_fraction <= 1:
            raise ConfigError(f"curriculum_fraction: expected a number in (0, 1], found {self.curriculum_fraction!r}")

    def lr_schedule(self):
        """The engine's schedule for these settings (over steps for a steps budget, else over time).

        ``cosine``: :class:`~lstmkit.train.Cosine` with ``floor=0.1`` (decay to ``lr/10``); ``constant``
        with a warm-up: the same class with ``floor=1`` (no decay); else :class:`~lstmkit.train.Constant`.
        """
        from lstmkit.train import Constant, Cosine

        if self.schedule == "cosine":
            return Cosine(warmup_steps=self.warmup, floor=0.1)
        return Cosine(warmup_steps=self.warmup, floor=1.0) if self.warmup else Constant()

    def as_config(self) -> dict:
        """The settings for config.json, under the keys it has always had (``lr``, ``clip``), so that
        results written before issue 15 stay comparable."""
        old = {new: name for name, new in OLD_SETTING_NAMES.items()}
        return {old.get(key, key): value for key, value in asdict(self).items()}

    def resolved_precision(self) -> str:
        """``fp32`` or ``bf16``: what ``precision`` means on this CPU."""
        from lstmkit.train.precision import resolve_precision

        return resolve_precision(self.precision, "cpu", name="--precision")

    def train_length(self, length: int, progress: float) -> int:
        start = min(self.curriculum_start, length)
        if not self.curriculum or start >= length:
            return length
        quantum = max(1, length // 20)
        grown = start + (length - start) * min(1.0, progress / self.curriculum_fraction)
        return min(length, max(start, int(round(grown / quantum)) * quantum))


@dataclass
class RunResult:
    """One trained model at one length: its final test metrics and its learning curve."""

    task: str
    model: str
    length: int
    size: int
    params: int
    steps: int
    train_seconds: float
    final_train_loss: float | None
    metrics: dict[str, float]
    baseline: dict[str, float]
    data_baseline: dict[str, float]
    solved: bool
    curve: list[dict[str, float]] = field(default_factory=list)
    precision: str = "fp32"  # what the engine trained in: fp32 or bf16

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.train_seconds / max(1, self.steps)


def fixed_test_set(task: Task, length: int, size: int) -> tuple[Tensor, Tensor]:
    """The fixed test set of ``task`` at ``length`` (the same for every model and every seed)."""
    return task.sample(size, length, generator(TEST_SEED, task.name, length, "test"))


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, x: Tensor, y: Tensor, chunk: int = 64) -> dict[str, float]:
    """Test metrics of ``model`` on ``(x, y)``, in batches of ``chunk`` sequences."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    for start in range(0, x.size(1), chunk):
        xs, ys = x[:, start : start + chunk], y[..., start : start + chunk]
        for key, value in task.sums(model(xs), ys).items():
            totals[key] = totals.get(key, 0) + value
    model.train(was_training)
    return task.finish(totals)


def initial_model(spec: ModelSize, task: Task, length: int, seed: int, forget_bias: float | str = 1.0) -> BenchModel:
    """The model of ``spec`` with initial weights seeded from ``(seed, model, size, length)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_stream_seed(seed, "init", spec.model, spec.size, length))
        return build_model(spec, task, length, forget_bias)


def training_batches(task: Task, length: int, settings: TrainSettings, seed: int, progress: Callable[[], float]):
    """The training stream of ``task`` at ``length`` as an engine batch source (endless).

    One generator seeded from ``(seed, task, length)`` gives batch after batch, in order, so every
    model sees the same batches; ``progress()`` (the fraction of the budget used) sets the
    curriculum's length. With ``world`` processes each one draws the same global batch and keeps its
    shard (sequences are dimension 1 of ``x``, the last of ``y``).
    """
    from lstmkit.train import FunctionBatches, shard

    stream = generator(seed, "train", task.name, length)
    drawn = [0]

    def batch(epoch: int, index: int, rank: int = 0, world: int = 1) -> tuple[Tensor, Tensor] | None:
        if index != drawn[0]:
            raise ConfigError(f"training batches: drawn in order from one stream; asked for batch {index}, next is {drawn[0]}")
        drawn[0] += 1
        x, y = task.sample(settings.batch_size, settings.train_length(length, progress()), stream)
        if world == 1:
            return x, y
        x, y = shard(x, rank, world, dim=1), shard(y, rank, world, dim=-1)
        return None if x is None else (x, y)

    return FunctionBatches(batch, None)


def _agreed(value: float) -> float:
    """The largest ``value`` over the processes of a multi-process run (so their curricula agree)."""
    from lstmkit.train import distributed

    if distributed.world_size() == 1:
        return value
    t = torch.tensor([float(value)])
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return float(t)


def train_run(
    task: Task,
    spec: ModelSize,
    length: int,
    budget: Budget,
    settings: TrainSettings,
    seed: int = 0,
    *,
    echo: Echo | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    model: BenchModel | None = None,
    log_path: str | Path | None = None,
    log_every: int = 0,
) -> tuple[BenchModel, RunResult]:
    """Train the model of ``spec`` on ``task`` at ``length`` with :class:`lstmkit.train.Trainer`; returns the model and its result.

    ``model``: train this one (built from ``spec``) instead of :func:`initial_model`. ``log_path``: the
    engine's JSONL metrics log (an ``eval`` event per periodic evaluation, a ``step`` event with the
    loss and learning rate every ``log_every`` steps; :func:`lstmkit.train.read_log`). The engine runs
    the loop: ``max_steps`` or ``minutes`` from ``budget``, ``clip_norm``, the schedule of
    :meth:`TrainSettings.lr_schedule`, ``precision``, and an evaluation on the test set every
    ``eval_every`` steps and at the end; the curve's points come from its ``on_eval`` hook (the first
    one, at step 0, is measured before training). In a ``torchrun`` run every process trains its shard
    of each batch; only rank 0 evaluates and echoes.

    Seeds: the model's initial weights from ``(seed, model, size, length)``, the training batches from
    ``(seed, task, length)`` (the same batches for every model), the test set from the task and
    length only. With a ``steps`` budget and one thread the run is bit-for-bit repeatable.
    """
    from lstmkit.nn.threads import torch_threads
    from lstmkit.train import StepOutput, Trainer, distributed

    if test is None:
        test = fixed_test_set(task, length, settings.test_size)
    x_test, y_test = test
    distributed.init_from_env(backend=BACKEND)
    main = distributed.is_main()
    kind = spec.model
    label = f"[{kind} T={length}]"
    curve: list[dict[str, float]] = []
    since: list = [None, 0]  # training loss since the last evaluation: on-device float64 sum, steps

    def record(step: int, seconds: float, metrics: dict[str, float]) -> None:
        total, count = since
        train_loss = float(total) / count if count else None
        since[:] = [None, 0]
        curve.append({"step": step, "seconds": round(seconds, 3), "train_loss": train_loss, **metrics})
        if echo is not None and main:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            loss_text = "     -" if train_loss is None else f"{train_loss:.4f}"
            echo(f"{label} step {step:>6}  {seconds:7.1f} s  train loss {loss_text}  test {shown}")

    def on_step(state) -> None:
        loss = state.loss.detach().double()
        since[0] = loss if since[0] is None else since[0] + loss
        since[1] += 1

    def step(net: nn.Module, batch: tuple[Tensor, Tensor], carry: object) -> StepOutput:
        x, y = batch
        return StepOutput(task.loss(net(x).float(), y), weight=x.size(1))

    with torch_threads(settings.threads):
        if model is None:
            model = initial_model(spec, task, length, seed, settings.forget_bias)
        # fused: measured faster than foreach here
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, fused=True)
        trainer: Trainer | None = None

        def progress() -> float:
            p = trainer.progress()
            return _agreed(p) if budget.minutes is not None and settings.curriculum else p

        trainer = Trainer(
            model, optimizer, step, training_batches(task, length, settings, seed, progress),
            epochs=None, max_steps=budget.steps, minutes=budget.minutes, clip_norm=settings.clip_norm,
            learning_rate=settings.learning_rate, schedule=settings.lr_schedule(), precision=settings.precision,
            eval_every=settings.eval_every, eval_at_epoch_end=False, handle_sigint=False, log_path=log_path,
            log_every=log_every,
            evaluate=lambda net: evaluate(net, task, x_test, y_test), on_step=on_step,
            on_eval=lambda state, metrics: record(state.step, state.elapsed, metrics),
        )  # fmt: skip
        record(0, 0.0, distributed.broadcast_object(evaluate(model, task, x_test, y_test) if main else None))
        run = trainer.fit()
    metrics = {k: v for k, v in curve[-1].items() if k in task.metrics}
    result = RunResult(
        task=task.name, model=kind, length=length, size=spec.size, params=count_parameters(model), steps=run.steps,
        train_seconds=run.elapsed, final_train_loss=curve[-1]["train_loss"], metrics=metrics,
        baseline=task.baseline(length), data_baseline=task.data_baseline(y_test), solved=task.solved(metrics),
        curve=curve, precision=run.precision,
    )  # fmt: skip
    return model, result


# ---- the benchmark ------------------------------------------------------------------------------

OUTPUT_FILES = ("results.csv", "results.md", "results.png", "curves.csv", "curves.png")


def describe_run(settings: TrainSettings) -> str:
    """What a run adds to the defaults (fp32, one process), as ``", ..."`` text; ``""`` for the defaults."""
    from lstmkit.train import distributed

    parts = ["bf16 autocast"] if settings.resolved_precision() == "bf16" else []
    world = distributed.world_size()
    if world > 1:
        parts.append(f"{world} processes (torchrun data parallelism, same global batch)")
    return "".join(", " + p for p in parts)


@dataclass
class LongRangeBenchmark:
    """``lstmkit bench longrange``: every model at every length, with tables and plots in ``out``."""

    task: str
    lengths: Sequence[int]
    models: Sequence[str]
    budget: Budget
    settings: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    lstm_hidden: int = 128
    command: str = ""

    def __post_init__(self) -> None:
        self._task = make_task(self.task)
        self.models = check_models(self.models)
        self.lengths = check_lengths(self.lengths, self._task)
        self.lstm_hidden = check_int("--hidden", self.lstm_hidden, 1)
        self.seed = check_int("--seed", self.seed, 0)
        check_hidden_fits(self._task, self.lstm_hidden, self.settings.batch_size, self.lengths)
        self._sizes: dict[str, ModelSize] | None = None

    def sizes(self) -> dict[str, ModelSize]:
        if self._sizes is None:
            self._sizes = matched_sizes(self.models, self._task, self.lstm_hidden)
        return self._sizes

    def run(self, out: str | Path, echo: Echo = print) -> list[RunResult]:
        """Train and evaluate every (model, length); the files in ``out`` are rewritten after each run.

        Under ``torchrun`` every process trains its shard of each batch; only rank 0 prints and writes.
        """
        from lstmkit.train import distributed

        distributed.init_from_env(backend=BACKEND)
        report = Report(out)
        echo = report.echo(echo)
        task, sizes, st = self._task, self.sizes(), self.settings
        echo(f"task {task.name}: lengths {', '.join(map(str, self.lengths))}; budget per run: {self.budget.describe()}, "
             f"batch {st.batch_size}, Adam lr {st.learning_rate:g}, clip {st.clip_norm:g}, {st.threads} thread(s), "
             f"seed {self.seed}, "
             f"{describe_forget_bias(st.forget_bias)}{describe_run(st)}")  # fmt: skip
        for s in sizes.values():
            echo(f"  {s.model:<12} {s.params:>7} parameters ({s.ratio:.3f} x the LSTM's): {s.describe()}")
            if abs(s.ratio - 1.0) > 0.05:
                echo(f"  warning: {s.model} cannot be matched within 5% at this size")
        results: list[RunResult] = []
        for length in self.lengths:
            test = fixed_test_set(task, length, st.test_size)
            theory, data = task.baseline(length), task.data_baseline(test[1])
            echo(f"T={length}: chance baseline {task.metric} {theory[task.metric]:.4f} (theory), "
                 f"{data[task.metric]:.4f} (best input-blind predictor on the {st.test_size} test sequences)")  # fmt: skip
            for kind in self.models:
                _, result = train_run(task, sizes[kind], length, self.budget, st, self.seed, echo=echo, test=test)
                results.append(result)
                self.write(report, results, plots=kind == self.models[-1])
        echo(f"wrote {report.names(OUTPUT_FILES)}")
        return results

    def write(self, report: Report, results: list[RunResult], plots: bool = True) -> None:
        """Rewrite the tables (after every run) and the plots (when ``plots``: after every length)."""
        if not report.active:
            return
        sizes = self.sizes()
        report.text("results.csv", results_csv(results, self.budget, self.seed))
        report.text("curves.csv", curves_csv(results))
        report.text("results.md", self.markdown(results, sizes))
        report.json("config.json", self.config(sizes))
        if plots:
            report.figure("results.png", plot_results(results, self._task, self.lengths, self.budget))
            report.figure("curves.png", plot_curves(results, self._task))

    def config(self, sizes: dict[str, ModelSize]) -> dict:
        return {
            "command": self.command, "task": self.task, "lengths": list(self.lengths), "models": list(self.models),
            "budget": asdict(self.budget), "settings": self.settings.as_config(), "seed": self.seed,
            "lstm_hidden": self.lstm_hidden, "sizes": {k: asdict(v) for k, v in sizes.items()},
            "environment": environment(),
        }  # fmt: skip

    def markdown(self, results: list[RunResult], sizes: dict[str, ModelSize]) -> str:
        task, st = self._task, self.settings
        rows = (
            [r.model, r.length, r.steps, f"{r.train_seconds:.0f}", f"{r.ms_per_step:.1f}",
             *(f"{r.metrics[m]:.4f}" for m in task.metrics), f"{r.baseline[task.metric]:.4f}", "yes" if r.solved else "no"]
            for r in results
        )  # fmt: skip
        lines = [
            *markdown_header(f"Long-range benchmark: {task.name}", self.command),
            f"Budget per (model, length): {self.budget.describe()}; batch {st.batch_size}, "
            f"Adam lr {st.learning_rate:g} "
            f"({st.schedule} schedule, warm-up {st.warmup} steps), gradient-norm clipping {st.clip_norm:g}, "
            f"curriculum {'on (from T=' + str(st.curriculum_start) + ')' if st.curriculum else 'off'}, "
            f"{describe_forget_bias(st.forget_bias)}, "
            f"{st.threads} torch thread(s), seed {self.seed}{describe_run(st)}. "
            f"Test set: {st.test_size} fixed sequences per length.",
            "",
            *markdown_table(["model", "size", "parameters", "x LSTM"], "llrr",
                            ([s.model, s.describe(), s.params, f"{s.ratio:.3f}"] for s in sizes.values())),
            "",
            *markdown_table(["model", "T", "steps", "train s", "ms/step", *task.metrics, f"chance {task.metric}", "solved"],
                            "lrrrr" + "r" * len(task.metrics) + "rl", rows),
        ]  # fmt: skip
        solved = f"MSE < {SOLVED_MSE}" if task.name == "adding" else f"symbol accuracy >= {SOLVED_ACCURACY:.0%}"
        lines += ["", f"Solved: {solved}. Plot: `results.png` (final metric against T, chance baseline dashed); "
                      "learning curves: `curves.png`, `curves.csv`.", ""]  # fmt: skip
        env = environment()
        lines.append(f"Environment: lstmkit {env['lstmkit']}, torch {env['torch']}, {env['cpus']} CPUs.")
        return "\n".join(lines) + "\n"


# ---- output files (written through lstmkit.bench.report) -----------------------------------------------


def results_csv(results: list[RunResult], budget: Budget, seed: int) -> str:
    rows = []
    for r in results:
        rows.append({
            "task": r.task, "model": r.model, "length": r.length, "size": r.size, "params": r.params,
            "steps": r.steps, "train_seconds": round(r.train_seconds, 2), "ms_per_step": round(r.ms_per_step, 2),
            "final_train_loss": r.final_train_loss, **r.metrics,
            **{f"chance_{k}": v for k, v in r.baseline.items()},
            **{f"chance_data_{k}": v for k, v in r.data_baseline.items()},
            "solved": r.solved, "budget": budget.describe(), "seed": seed,
        })  # fmt: skip
    return csv_text(rows)


def curves_csv(results: list[RunResult]) -> str:
    return csv_text([{"model": r.model, "length": r.length, **point} for r in results for point in r.curve])


def plot_results(results: list[RunResult], task: Task, lengths: Sequence[int], budget: Budget):
    """The figure of ``results.png``: final metric against T per model, the chance baseline dashed (and accuracy for copy)."""
    from matplotlib.ticker import NullLocator

    plt = pyplot()
    panels = [task.metric] + (["symbol_accuracy"] if task.name == "copy" else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.6), squeeze=False)
    dense = sorted(set(lengths) | set(range(min(lengths), max(lengths) + 1, max(1, (max(lengths) - min(lengths)) // 200))))
    for ax, metric in zip(axes[0], panels):
        for kind in dict.fromkeys(r.model for r in results):
            mine = [r for r in results if r.model == kind]
            color, marker = MODEL_STYLE.get(kind, ("black", "o"))
            ax.plot([r.length for r in mine], [r.metrics[metric] for r in mine], marker=marker, color=color, label=kind)
        ax.plot(dense, [task.baseline(T)[metric] for T in dense], "k--", linewidth=1, label="chance baseline")
        if metric == "mse":
            ax.axhline(SOLVED_MSE, color="grey", linestyle=":", linewidth=1, label=f"solved (MSE {SOLVED_MSE})")
        if metric == "symbol_accuracy":
            ax.axhline(SOLVED_ACCURACY, color="grey", linestyle=":", linewidth=1, label=f"{SOLVED_ACCURACY:.0%}")
            ax.set_ylim(0, 1.02)
        else:
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xticks(list(lengths), labels=[str(T) for T in lengths])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("sequence length T")
        ax.set_ylabel({"mse": "test MSE", "cross_entropy": "test cross-entropy (nats/step)",
                       "symbol_accuracy": "accuracy on the 10 copied symbols"}[metric])  # fmt: skip
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{task.name}: final test metric after {budget.describe()} per run")
    return fig


def plot_curves(results: list[RunResult], task: Task):
    """The figure of ``curves.png``: test metric against training step, one panel per length."""
    plt = pyplot()
    lengths = list(dict.fromkeys(r.length for r in results))
    cols = min(3, len(lengths))
    rows = math.ceil(len(lengths) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.8 * rows), squeeze=False)
    for ax, length in zip(axes.flat, lengths):
        for r in (r for r in results if r.length == length):
            color, _ = MODEL_STYLE.get(r.model, ("black", "o"))
            ax.plot([p["step"] for p in r.curve], [p[task.metric] for p in r.curve], color=color, label=r.model)
        ax.axhline(task.baseline(length)[task.metric], color="k", linestyle="--", linewidth=1, label="chance")
        ax.set_yscale("log")
        ax.set_title(f"T = {length}")
        ax.set_xlabel("training step")
        ax.set_ylabel(task.metric_label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(lengths):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


__all__ = [
    "TASK_NAMES", "MODEL_NAMES", "AddingProblem", "CopyMemory", "make_task", "BenchModel", "build_model",
    "count_parameters", "matched_size", "matched_sizes", "model_size", "ModelSize", "Budget", "TrainSettings",
    "RunResult", "CHRONO", "parse_forget_bias", "describe_forget_bias", "fixed_test_set", "evaluate",
    "initial_model", "training_batches", "train_run", "LongRangeBenchmark", "describe_run",
    "parse_list", "parse_lengths", "generator", "markdown_header", "pyplot",
]  # fmt: skip
