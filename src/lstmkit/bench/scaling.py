r"""Very long sequences: streaming inference and training throughput, LSTM against a Transformer.

**Claim checked.** An LSTM carries a constant-size state ``(h, c)`` from step to step, so
streaming inference costs the same memory and time per step at step 10 and at step 1,000,000.
A causal Transformer decoding one step at a time keeps a key/value cache
(:class:`lstmkit.nn.kv_cache.KVCache`) of ``2 * layers * steps * d_model`` numbers and attends
over all of it at each step: memory and per-step time grow linearly with the position. Training
is the other way round: the Transformer processes all positions of a sequence in parallel, the
LSTM must walk through them in order.

**Models.** ``lstm``: one :class:`lstmkit.nn.LSTM` layer of ``hidden_size`` units over
``input_size`` features. ``transformer``: a causal :class:`lstmkit.nn.TransformerEncoder`
(pre-norm, ``nhead`` heads, ``num_layers`` layers) whose ``d_model`` (a multiple of ``nhead``, with
``dim_feedforward = 4 d_model``) and then ``dim_feedforward`` are chosen so its parameter count is
the closest to the LSTM's (:func:`matched_transformer`). Inputs are seeded standard-normal
vectors; the values do not change the cost of either model.

**Streaming protocol** (per model and length ``L``, :func:`stream_run`): one fresh process
(:func:`run_isolated`), so the operating system's peak-memory figure belongs to that
configuration alone. In it:

1. read the resident memory (``VmRSS``) after imports: the *process baseline*;
2. build the model; for the Transformer, predict the peak as baseline + model +
   ``KVCache.bytes_for(L)`` + the prefill's attention workspace, and stop cleanly, without
   allocating, when that passes the memory cap;
3. *prefill* to position ``L - timed - warm-up`` without timing: the LSTM runs its fused kernel
   over chunks of 1024 steps, carrying ``(h, c)`` — the exact state after those steps; the
   Transformer extends its cache in chunks of ``prefill_chunk`` steps, either ``exact`` (every
   step attends to the whole prefix: ``O(L^2)`` work, hours at ``L = 10^6`` on two cores) or
   ``blockwise`` (the default: each chunk attends only to itself, ``O(L)`` work). Blockwise fills
   the cache with keys and values of the true shape, at the true positions, made by the model
   itself, but not the values an exact prefix would give; since a step's attention reads every
   cached key and value whatever they hold, the timed steps do the same work on either cache.
   After each chunk the resident memory is read; passing the cap stops the run there;
4. a few untimed warm-up steps, then ``timed`` single steps, each a separate call
   (``lstm(x_t, (h, c))`` and ``cache.step(x_t)``) timed with ``perf_counter``; the last timed
   step is at position ``L``. Reported: median, mean and 90th percentile per-step latency;
5. read the peak resident memory (``VmHWM`` from ``/proc/self/status``, else ``ru_maxrss`` from
   ``getrusage``) and the memory at the end.

A Python loop of ``L`` single steps is never needed: the LSTM's state after ``L`` steps costs the
same to step as after one, and the Transformer's cache is built in chunks.

**Training throughput** (:func:`train_run`): per model and training length ``L``, in a fresh
process, batches of ``max(1, train_tokens // L)`` sequences, a Linear readout and MSE loss on
seeded random targets, Adam, run by the training engine (:class:`lstmkit.train.Trainer`, in
``settings.precision``); one untimed iteration, then ``train_iters`` timed iterations of
forward, backward and optimizer step: tokens per second = ``batch * L * iters / seconds``. Memory
above the process baseline is modelled as ``a + b L^2`` (the Transformer's attention mask and
scores are ``L x L``) through the two previous lengths' measured peaks
(:func:`predicted_training_peak`); a prediction over the cap stops that model cleanly without
starting it, and the resident memory is checked after every iteration.

**Crossover** (:func:`crossover`): the smallest length at which the Transformer's figure passes
the LSTM's, interpolated linearly in ``log L`` between the two measured lengths around it.

Everything is seeded; timings are what the machine gave (one torch thread unless ``threads``).
The files are written by the benchmarks' one report writer, :mod:`lstmkit.bench.report`.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from lstmkit.bench.report import MODEL_STYLE, Report, environment, figure_png, markdown_header, markdown_table, pyplot
from lstmkit.errors import ConfigError

MODELS = ("lstm", "transformer")
PREFILL_MODES = ("blockwise", "exact")
LSTM_PREFILL_CHUNK = 1024
GB = 1e9
MB = 1e6

Echo = Callable[[str], None]


# ---- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingSettings:
    """Everything one scaling benchmark run depends on (see the module docstring for the protocol)."""

    lengths: tuple[int, ...] = (1000, 10_000, 100_000, 1_000_000)
    train_lengths: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    input_size: int = 32
    hidden_size: int = 256
    nhead: int = 4
    num_layers: int = 2
    batch_size: int = 1
    memory_cap_gb: float = 1.0
    timed_steps: int = 50
    warmup_steps: int = 3
    prefill: str = "blockwise"
    prefill_chunk: int = 256
    train_tokens: int = 4096
    train_iters: int = 5
    run_timeout_s: float = 600.0
    threads: int = 1
    seed: int = 0
    precision: str = "fp32"  # of the training job (the streaming job measures fp32 inference)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lengths", check_lengths(self.lengths, "--lengths"))
        object.__setattr__(self, "train_lengths", check_lengths(self.train_lengths, "--train-lengths", allow_empty=True))
        for name, low in [
            ("input_size", 1), ("hidden_size", 1), ("nhead", 1), ("num_layers", 1), ("batch_size", 1),
            ("timed_steps", 1), ("warmup_steps", 0), ("prefill_chunk", 1), ("train_tokens", 1),
            ("train_iters", 1), ("threads", 1), ("seed", 0),
        ]:  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"--{name.replace('_', '-')}: expected an integer >= {low}, found {value!r}")
        for name in ("memory_cap_gb", "run_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
                raise ConfigError(f"--{name.replace('_', '-').replace('-s', '')}: expected a number > 0, found {value!r}")
        if self.prefill not in PREFILL_MODES:
            raise ConfigError(f"--prefill: expected one of {', '.join(PREFILL_MODES)}, found {self.prefill!r}")
        from lstmkit.train.precision import check_precision, resolve_precision

        object.__setattr__(self, "precision", check_precision(self.precision, "--precision"))
        resolve_precision(self.precision, "cpu", name="--precision")  # bf16 without bf16 units: fail before any run
        from lstmkit.util.memory import check_training_fits, lstm_params

        check_training_fits("--hidden-size", self.hidden_size, lstm_params(
            self.input_size, self.hidden_size, self.num_layers) + self.hidden_size * self.input_size,
            activation_floats=6 * self.batch_size * max(self.train_lengths or (1,)) * self.hidden_size * self.num_layers)

    @property
    def memory_cap_bytes(self) -> int:
        return int(self.memory_cap_gb * GB)


def check_lengths(lengths: Sequence[int], option: str, allow_empty: bool = False) -> tuple[int, ...]:
    """Distinct integers >= 1, sorted; else a one-line ConfigError naming ``option``."""
    lengths = list(lengths)
    if not lengths and not allow_empty:
        raise ConfigError(f"{option}: expected at least one length, found none")
    for n in lengths:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{option}: expected integers >= 1, found {n!r}")
    if len(set(lengths)) != len(lengths):
        raise ConfigError(f"{option}: each length at most once, found {','.join(map(str, lengths))}")
    return tuple(sorted(lengths))


def parse_int_list(text: str, option: str) -> tuple[int, ...]:
    """``"1000, 10000"`` -> ``(1000, 10000)``; ``""`` -> ``()``; anything else a ConfigError naming ``option``."""
    items = [s.strip() for s in str(text).split(",")] if str(text).strip() else []
    values = []
    for item in items:
        try:
            values.append(int(item.replace("_", "")))
        except ValueError:
            raise ConfigError(f"{option}: expected comma-separated integers, found {item!r}") from None
    return tuple(values)


# ---- models ----------------------------------------------------------------------------------


def lstm_parameters(input_size: int, hidden_size: int) -> int:
    """One LSTM layer with torch's two biases: ``4 H (H_in + H) + 8 H``."""
    return 4 * hidden_size * (input_size + hidden_size) + 8 * hidden_size


def transformer_parameters(input_size: int, d_model: int, feedforward: int, num_layers: int) -> int:
    """:class:`~lstmkit.nn.TransformerEncoder`: input projection, per layer attention (``4 d^2 + 4 d``),
    feed-forward (``2 d f + f + d``) and two LayerNorms (``4 d``), then the final LayerNorm (``2 d``)."""
    d, f = d_model, feedforward
    return input_size * d + d + num_layers * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d


@dataclass(frozen=True)
class ModelSizes:
    lstm_params: int
    d_model: int
    feedforward: int
    transformer_params: int

    @property
    def ratio(self) -> float:
        return self.transformer_params / self.lstm_params


def matched_transformer(settings: ScalingSettings) -> ModelSizes:
    """The Transformer whose parameter count is the closest to the LSTM's.

    ``d_model``: the multiple of ``nhead`` closest with ``dim_feedforward = 4 d_model``; then
    ``dim_feedforward`` (>= 1) closes the remaining gap.
    """
    s = settings
    target = lstm_parameters(s.input_size, s.hidden_size)

    def gap(d: int, f: int) -> int:
        return abs(transformer_parameters(s.input_size, d, f, s.num_layers) - target)

    d = s.nhead
    while transformer_parameters(s.input_size, d + s.nhead, 4 * (d + s.nhead), s.num_layers) <= target:
        d += s.nhead
    d = min((d, d + s.nhead), key=lambda u: gap(u, 4 * u))
    per_unit = s.num_layers * (2 * d + 1)  # parameters added by one more feed-forward unit
    base = transformer_parameters(s.input_size, d, 0, s.num_layers)
    f = max(1, round((target - base) / per_unit))
    return ModelSizes(target, d, f, transformer_parameters(s.input_size, d, f, s.num_layers))


def build_model(kind: str, settings: ScalingSettings, max_len: int = 1):
    """The benchmark's ``lstm`` or ``transformer`` (sequence-first layout, float32)."""
    from lstmkit.nn import LSTM, TransformerEncoder

    if kind == "lstm":
        return LSTM(settings.input_size, settings.hidden_size)
    if kind == "transformer":
        sizes = matched_transformer(settings)
        return TransformerEncoder(
            settings.input_size, d_model=sizes.d_model, nhead=settings.nhead, num_layers=settings.num_layers,
            dim_feedforward=sizes.feedforward, max_len=max_len,
        )  # fmt: skip
    raise ConfigError(f"model: expected one of {', '.join(MODELS)}, found {kind!r}")


# ---- memory as the operating system sees it ----------------------------------------------------


def memory_snapshot() -> dict[str, int]:
    """This process's resident memory in bytes: ``rss`` now and ``peak`` (high-water mark).

    Linux: ``VmRSS`` and ``VmHWM`` from ``/proc/self/status``; elsewhere both from
    ``getrusage(RUSAGE_SELF).ru_maxrss`` (the peak). ``ru_maxrss`` is always given too.
    """
    values: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        maxrss = maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes on macOS, kB on Linux
    except ImportError:  # pragma: no cover - Windows
        maxrss = 0
    return {"rss": values.get("VmRSS", maxrss), "peak": values.get("VmHWM", maxrss), "ru_maxrss": maxrss}


def reset_peak_memory() -> bool:
    """Reset the high-water mark to the current RSS (Linux ``clear_refs``); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class CapReached(Exception):
    """A run stopped cleanly at the memory cap (internal: becomes a ``stopped`` result)."""


def _check_cap(cap: int, predicted_extra: int, what: str) -> None:
    rss = memory_snapshot()["rss"]
    if rss + predicted_extra > cap:
        raise CapReached(
            f"predicted peak {(rss + predicted_extra) / GB:.2f} GB ({what} {predicted_extra / GB:.2f} GB "
            f"on top of {rss / GB:.2f} GB resident) > cap {cap / GB:.2f} GB; not started"
        )


# ---- one configuration (runs inside a fresh process) -------------------------------------------


def _setup(settings: ScalingSettings) -> None:
    import torch

    from lstmkit.util.checks import seed_everything

    torch.set_num_threads(settings.threads)
    seed_everything(settings.seed)


def _latency_summary(seconds: list[float]) -> dict[str, float]:
    us = sorted(s * 1e6 for s in seconds)
    p90 = us[min(len(us) - 1, math.ceil(0.9 * len(us)) - 1)]
    return {"step_us_median": statistics.median(us), "step_us_mean": statistics.fmean(us), "step_us_p90": p90,
            "step_us_min": us[0]}  # fmt: skip


def stream_run(kind: str, length: int, settings: ScalingSettings) -> dict[str, Any]:
    """Streaming inference of ``kind`` up to position ``length`` (the protocol in the module docstring)."""
    import torch

    from lstmkit.nn.kv_cache import WORKSPACE_BYTES, KVCache

    _setup(settings)
    s, n = settings, settings.batch_size
    result: dict[str, Any] = {"job": "stream", "model": kind, "length": length}
    result["baseline_rss"] = memory_snapshot()["rss"]
    gen = torch.Generator().manual_seed(s.seed * 1_000_003 + length)
    timed = min(s.timed_steps, length)
    warm = min(s.warmup_steps, length - timed)
    prefill = length - timed - warm
    result.update(prefill_steps=prefill, timed_steps=timed, prefill_mode="exact" if kind == "lstm" else s.prefill)
    position = 0
    try:
        with torch.inference_mode():
            model = build_model(kind, s).eval()
            if kind == "lstm":
                state_bytes = 2 * n * s.hidden_size * 4
                hx = None
                chunk = LSTM_PREFILL_CHUNK

                def advance(x: torch.Tensor) -> None:
                    nonlocal hx
                    _, hx = model(x, hx)

            else:
                state_bytes = KVCache.bytes_for(model, length, n)
                chunk = s.prefill_chunk
                heads = model.nhead
                workspace = WORKSPACE_BYTES if s.prefill == "exact" else n * heads * chunk * chunk * 4 * 2
                _check_cap(s.memory_cap_bytes, state_bytes + workspace, "KV cache + attention workspace")
                cache = KVCache(model, n, capacity=length)

                def advance(x: torch.Tensor) -> None:
                    if x.size(0) == 1:
                        cache.step(x[0])
                    else:
                        cache.extend(x, attend_to_cache=s.prefill == "exact")

            result["state_bytes"] = state_bytes
            started = time.perf_counter()
            while position < prefill:
                size = min(chunk, prefill - position)
                advance(torch.randn(size, n, s.input_size, generator=gen))
                position += size
                rss = memory_snapshot()["rss"]
                if rss > s.memory_cap_bytes:
                    raise CapReached(f"resident memory {rss / GB:.2f} GB passed the cap {s.memory_cap_gb:g} GB at step {position}")
            result["prefill_seconds"] = time.perf_counter() - started
            for _ in range(warm):
                advance(torch.randn(1, n, s.input_size, generator=gen))
                position += 1
            steps = torch.randn(timed, 1, n, s.input_size, generator=gen)
            seconds = []
            for x in steps:
                t0 = time.perf_counter()
                advance(x)
                seconds.append(time.perf_counter() - t0)
                position += 1
        result.update(_latency_summary(seconds))
        result["status"] = "ok"
    except CapReached as stop:
        result.update(status="stopped", reason=str(stop))
    mem = memory_snapshot()
    result.update(position=position, peak_rss=mem["peak"], end_rss=mem["rss"], ru_maxrss=mem["ru_maxrss"])
    return result


def train_run(kind: str, length: int, settings: ScalingSettings) -> dict[str, Any]:
    """Training throughput (forward, backward, Adam step) of ``kind`` on sequences of ``length``.

    The iterations run through the engine (:class:`lstmkit.train.Trainer`, ``max_steps = 1 +
    train_iters``, in ``settings.precision``) on one seeded batch; its ``on_step`` hook checks the
    memory cap after every step and times the steps after the first (the warm-up).
    """
    import torch

    from lstmkit.train import FunctionBatches, Trainer

    _setup(settings)
    s = settings
    batch = max(1, s.train_tokens // length)
    result: dict[str, Any] = {"job": "train", "model": kind, "length": length, "batch": batch}
    result["baseline_rss"] = memory_snapshot()["rss"]
    try:
        model = build_model(kind, s, max_len=length)
        width = s.hidden_size if kind == "lstm" else model.d_model

        class SequenceRegressor(torch.nn.Module):
            """The benchmark's model and a Linear readout to one value per step."""

            def __init__(self) -> None:
                super().__init__()
                self.model, self.head = model, torch.nn.Linear(width, 1)

            def forward(self, inputs: torch.Tensor) -> torch.Tensor:
                return self.head(self.model(inputs)[0])

        net = SequenceRegressor().train()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(s.seed * 1_000_003 + length)
        x = torch.randn(length, batch, s.input_size, generator=gen)
        y = torch.randn(length, batch, 1, generator=gen)
        clock: dict[str, float] = {}

        def step(module: torch.nn.Module, data: Any, carry: Any) -> torch.Tensor:
            inputs, targets = data
            return torch.nn.functional.mse_loss(module(inputs).float(), targets)

        def on_step(state: Any) -> None:
            rss = memory_snapshot()["rss"]
            if rss > s.memory_cap_bytes:
                raise CapReached(f"resident memory {rss / GB:.2f} GB passed the cap {s.memory_cap_gb:g} GB")
            now = time.perf_counter()
            if state.step == 1:  # the warm-up step is done: the timed steps start now
                clock["start"] = now
            else:
                clock["end"] = now
                result["loss"] = float(state.loss)

        run = Trainer(net, optimizer, step, FunctionBatches(lambda *_: (x, y), None), epochs=None,
                      max_steps=1 + s.train_iters, precision=s.precision, handle_sigint=False, on_step=on_step).fit()
        seconds = clock["end"] - clock["start"]
        result.update(status="ok", seconds=seconds, tokens_per_s=batch * length * s.train_iters / seconds,
                      steps=run.steps, precision=run.precision)  # fmt: skip
    except CapReached as stop:
        result.update(status="stopped", reason=str(stop))
    mem = memory_snapshot()
    result.update(peak_rss=mem["peak"], end_rss=mem["rss"], ru_maxrss=mem["ru_maxrss"])
    return result


JOBS = {"stream": stream_run, "train": train_run}


def run_isolated(job: str, kind: str, length: int, settings: ScalingSettings) -> dict[str, Any]:
    """Run one configuration in a fresh Python process (so its peak memory is its own) and return its result.

    A crash, a kill (out of memory) or ``run_timeout_s`` passing becomes a ``failed`` result.
    """
    payload = json.dumps({"job": job, "model": kind, "length": length, "settings": asdict(settings)})
    env = dict(os.environ, OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
    base = {"job": job, "model": kind, "length": length}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lstmkit.bench.scaling", payload],
            capture_output=True, text=True, timeout=settings.run_timeout_s, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {**base, "status": "failed", "reason": f"took longer than --run-timeout {settings.run_timeout_s:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    if done.returncode < 0:
        why = f"killed by signal {-done.returncode}" + (" (out of memory?)" if done.returncode == -9 else "")
    else:
        tail = done.stderr.strip().splitlines()
        why = f"exit code {done.returncode}: {tail[-1] if tail else 'no message'}"
    return {**base, "status": "failed", "reason": why}


def run_in_process(job: str, kind: str, length: int, settings: ScalingSettings) -> dict[str, Any]:
    """Run one configuration here (fast; the peak is reset first where Linux allows, else cumulative)."""
    import gc

    gc.collect()
    reset = reset_peak_memory()
    result = JOBS[job](kind, length, settings)
    result["peak_note"] = "reset before the run" if reset else "cumulative over this process"
    return result


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m lstmkit.bench.scaling JSON``: run one job and print its result as one JSON line."""
    spec = json.loads(argv[0])
    settings = ScalingSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec["settings"].items()})
    result = JOBS[spec["job"]](spec["model"], spec["length"], settings)
    print(json.dumps(result))
    return 0


# ---- crossover ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossover:
    """Where the Transformer's figure passes the LSTM's: ``length`` (interpolated) and a sentence."""

    length: float | None
    text: str


def crossover(lstm: dict[int, float], transformer: dict[int, float], what: str) -> Crossover:
    """The smallest length at which ``transformer > lstm``, interpolated in ``log L`` between measured lengths."""
    common = sorted(set(lstm) & set(transformer))
    if not common:
        return Crossover(None, f"{what}: no length measured for both models")
    gaps = [transformer[n] - lstm[n] for n in common]
    for i, (n, g) in enumerate(zip(common, gaps)):
        if g <= 0:
            continue
        if i == 0:
            return Crossover(None, f"{what}: the Transformer's is higher already at the shortest length measured, L = {n}")
        lo, g_lo = common[i - 1], gaps[i - 1]
        at = math.exp(math.log(lo) + (math.log(n) - math.log(lo)) * (-g_lo) / (g - g_lo))
        return Crossover(at, f"{what}: the Transformer's passes the LSTM's at L ~ {at:,.0f} (between {lo} and {n})")
    return Crossover(None, f"{what}: the Transformer's stays at or below the LSTM's up to L = {common[-1]}")


# ---- the benchmark ------------------------------------------------------------------------------


@dataclass
class ScalingResult:
    settings: ScalingSettings
    sizes: ModelSizes
    stream: list[dict[str, Any]] = field(default_factory=list)
    train: list[dict[str, Any]] = field(default_factory=list)
    isolation: str = "subprocess"
    command: str = ""

    def ok(self, job: str, kind: str) -> list[dict[str, Any]]:
        return [r for r in getattr(self, job) if r["model"] == kind and r.get("status") == "ok"]

    def series(self, job: str, kind: str, key: str) -> dict[int, float]:
        return {r["length"]: r[key] for r in self.ok(job, kind)}

    def stops(self, job: str) -> list[dict[str, Any]]:
        return [r for r in getattr(self, job) if r.get("status") != "ok"]

    def compare(self, job: str, key: str, what: str) -> Crossover:
        return crossover(self.series(job, "lstm", key), self.series(job, "transformer", key), what)

    def crossovers(self) -> dict[str, Crossover]:
        """``memory`` and ``latency`` (streaming), and ``training`` (tokens/s) when measured."""
        found = {
            "memory": self.compare("stream", "peak_rss", "peak memory (streaming)"),
            "latency": self.compare("stream", "step_us_median", "per-step latency (streaming)"),
        }
        if self.train:
            found["training"] = self.compare("train", "tokens_per_s", "training tokens/s")
        return found


def run_scaling(
    settings: ScalingSettings, out: str | Path, *, isolate: bool = True, echo: Echo = print, command: str = ""
) -> ScalingResult:
    """Run every streaming and training configuration, writing the results to ``out`` after each one.

    Once a model stops (memory cap, failure, timeout) at a length, its longer lengths are skipped.
    """
    report = Report(out)
    sizes = matched_transformer(settings)
    result = ScalingResult(settings, sizes, isolation="subprocess" if isolate else "in-process", command=command)
    runner = run_isolated if isolate else run_in_process
    echo(f"lstm: {sizes.lstm_params} parameters ({settings.hidden_size} units); transformer: "
         f"{sizes.transformer_params} parameters (d_model {sizes.d_model}, feed-forward {sizes.feedforward}, "
         f"{settings.nhead} heads, {settings.num_layers} layers; {sizes.ratio:.3f} x the LSTM's)")  # fmt: skip
    plan = [("stream", settings.lengths), ("train", settings.train_lengths)]
    for job, lengths in plan:
        for kind in MODELS:
            stopped_at, measured = None, []
            for length in lengths:
                base = {"job": job, "model": kind, "length": length}
                predicted = predicted_training_peak(measured, length) if job == "train" else None
                if stopped_at is not None:
                    row = {**base, "status": "skipped", "reason": f"stopped at the shorter length {stopped_at}"}
                elif predicted is not None and predicted > settings.memory_cap_bytes:
                    row = {**base, "status": "stopped", "reason": (
                        f"predicted peak {predicted / GB:.2f} GB (a + b L^2 through the peaks measured at L = "
                        f"{measured[-2]['length']} and {measured[-1]['length']}) > cap {settings.memory_cap_gb:g} GB; "
                        "not started")}  # fmt: skip
                else:
                    row = runner(job, kind, length, settings)
                if row["status"] == "ok":
                    measured.append(row)
                elif stopped_at is None:
                    stopped_at = length
                getattr(result, job).append(row)
                echo(describe_row(row))
                write_outputs(result, report, plots=False)
    write_outputs(result, report)
    for c in result.crossovers().values():
        echo(c.text)
    echo(f"wrote {report.names(OUTPUT_FILES)}")
    return result


def predicted_training_peak(measured: Sequence[dict[str, Any]], length: int) -> float | None:
    """The peak at ``length`` if memory above the baseline is ``a + b L^2`` (``b >= 0``) through the last
    two ``measured`` runs (shorter lengths); ``None`` before two runs are measured."""
    if len(measured) < 2:
        return None
    (n1, e1), (n2, e2) = ((r["length"], r["peak_rss"] - r["baseline_rss"]) for r in measured[-2:])
    b = max(0.0, (e2 - e1) / (n2 * n2 - n1 * n1))
    return measured[-1]["baseline_rss"] + e2 + b * (length * length - n2 * n2)


def describe_row(row: dict[str, Any]) -> str:
    head = f"{row['job']:<6} {row['model']:<11} L={row['length']:<9}"
    if row.get("status") != "ok":
        return f"{head} {row['status']}: {row.get('reason', '')}"
    if row["job"] == "stream":
        return (f"{head} step {row['step_us_median']:9.1f} us (median of {row['timed_steps']}), peak RSS "
                f"{_size(row['peak_rss']):>9}, state {_size(row['state_bytes']):>9}, prefill {row['prefill_seconds']:.1f} s")  # fmt: skip
    return f"{head} {row['tokens_per_s']:10.0f} tokens/s (batch {row['batch']}), peak RSS {_size(row['peak_rss']):>9}"


# ---- output files ---------------------------------------------------------------------------------

OUTPUT_FILES = ("streaming.csv", "training.csv", "results.md", "config.json", "streaming.png", "training.png")


STREAM_COLUMNS = ("model", "length", "status", "step_us_median", "step_us_mean", "step_us_p90", "step_us_min",
                  "peak_rss", "baseline_rss", "end_rss", "ru_maxrss", "state_bytes", "prefill_steps", "prefill_mode",
                  "prefill_seconds", "timed_steps", "position", "reason")  # fmt: skip
TRAIN_COLUMNS = ("model", "length", "status", "batch", "tokens_per_s", "seconds", "loss", "peak_rss", "baseline_rss",
                 "end_rss", "ru_maxrss", "reason")  # fmt: skip


def write_outputs(result: ScalingResult, report: Report, plots: bool = True) -> None:
    """The tables (after every run, so a stopped benchmark keeps what it measured) and the plots."""
    if not report.active:
        return
    report.csv("streaming.csv", result.stream, STREAM_COLUMNS, float_format=".6g")
    report.csv("training.csv", result.train, TRAIN_COLUMNS, float_format=".6g")
    report.text("results.md", markdown(result))
    report.json("config.json", config(result))
    if plots:
        report.png("streaming.png", plot_streaming(result))
        report.png("training.png", plot_training(result))


def config(result: ScalingResult) -> dict[str, Any]:
    return {
        "command": result.command, "settings": asdict(result.settings), "sizes": asdict(result.sizes),
        "isolation": result.isolation, "environment": environment(details=True),
    }  # fmt: skip


def _size(value: Any) -> str:
    """Bytes as B / KB / MB / GB (decimal), empty for a missing value."""
    if not isinstance(value, (int, float)):
        return ""
    for unit, size in (("GB", GB), ("MB", MB), ("KB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:,.{2 if unit == 'GB' else 1}f} {unit}"
    return f"{value:.0f} B"


def _stream_row(r: dict[str, Any]) -> list[str]:
    cells = [r["model"], str(r["length"]), r["status"]]
    if r.get("status") == "ok":
        cells += [f"{r['step_us_median']:,.1f}", f"{r['step_us_p90']:,.1f}"]
    else:
        cells += ["", ""]
    cells += [_size(r.get("peak_rss")), _size(r.get("baseline_rss")), _size(r.get("state_bytes"))]
    cells.append(f"{r['prefill_seconds']:.1f}" if "prefill_seconds" in r else "")
    return cells


def _comparison(result: ScalingResult) -> list[str]:
    """Per length, the Transformer against the LSTM measured in the same benchmark."""
    peak = {k: result.series("stream", k, "peak_rss") for k in MODELS}
    step = {k: result.series("stream", k, "step_us_median") for k in MODELS}
    rate = {k: result.series("train", k, "tokens_per_s") for k in MODELS}

    def both(n: int, d: dict[str, dict[int, float]], fmt: Callable[[float, float], str]) -> str:
        return fmt(d["transformer"][n], d["lstm"][n]) if all(n in d[k] for k in MODELS) else ""

    rows = ([n, both(n, peak, lambda t, l: _size(t - l)), both(n, step, lambda t, l: f"{t / l:.2f}"),
             both(n, rate, lambda t, l: f"{t / l:.2f}")]
            for n in sorted(set(result.settings.lengths) | set(result.settings.train_lengths)))  # fmt: skip
    return markdown_table(["L", "peak RSS, Transformer - LSTM", "step latency, Transformer / LSTM",
                           "training tokens/s, Transformer / LSTM"], "rrrr", rows)  # fmt: skip


def markdown(result: ScalingResult) -> str:
    s, z = result.settings, result.sizes
    lines = [
        *markdown_header("Very long sequences: LSTM vs Transformer (streaming inference and training)", result.command),
        f"Models: LSTM {s.hidden_size} units, {z.lstm_params} parameters; causal Transformer d_model {z.d_model}, "
        f"feed-forward {z.feedforward}, {s.nhead} heads, {s.num_layers} layers, {z.transformer_params} parameters "
        f"({z.ratio:.3f} x the LSTM's). Input {s.input_size} features, {s.batch_size} stream(s), float32, "
        f"{s.threads} torch thread(s), seed {s.seed}, memory cap {s.memory_cap_gb:g} GB, each configuration in "
        f"{'a fresh process' if result.isolation == 'subprocess' else 'this process (peaks reset between runs)'}.",
        "",
        f"Streaming protocol: prefill to L - {s.timed_steps} - {s.warmup_steps} without timing (LSTM: fused kernel "
        f"in chunks of {LSTM_PREFILL_CHUNK}, exact state; Transformer: KV cache extended in chunks of "
        f"{s.prefill_chunk}, {s.prefill} prefill), {s.warmup_steps} warm-up steps, then {s.timed_steps} timed "
        "single-step calls ending at position L. Peak RSS: VmHWM (else ru_maxrss) of the process; baseline: its "
        "RSS after imports, before the model. State: the LSTM's (h, c), the Transformer's KV cache.",
        "",
        "## Streaming inference",
        "",
        *markdown_table(["model", "L", "status", "step median (us)", "step p90 (us)", "peak RSS", "baseline RSS", "state",
                         "prefill (s)"], "lrlrrrrrr", (_stream_row(r) for r in result.stream)),
    ]  # fmt: skip
    if result.train:
        lines += [
            "",
            "## Training throughput (forward + backward + Adam step)",
            "",
            f"Batches of max(1, {s.train_tokens} // L) sequences, {s.train_iters} timed iterations after one warm-up"
            f"{', bf16 autocast' if _bf16(s) else ''}.",
            "",
            *markdown_table(["model", "L", "status", "batch", "tokens/s", "peak RSS"], "lrlrrr", (
                [r["model"], r["length"], r["status"], r.get("batch", ""),
                 f"{r['tokens_per_s']:,.0f}" if r.get("status") == "ok" else "", _size(r.get("peak_rss"))]
                for r in result.train)),
        ]  # fmt: skip
    lines += ["", "## Transformer against LSTM", "", *_comparison(result), "", "## Crossovers and stops", ""]
    lines += [f"- {c.text}." for c in result.crossovers().values()]
    stops = [r for job in ("stream", "train") for r in result.stops(job) if r["status"] != "skipped"]
    lines += [f"- {r['job']} {r['model']} {r['status']} at L = {r['length']}: {r.get('reason', '')}." for r in stops]
    if not stops:
        lines.append(f"- No run stopped (memory cap {s.memory_cap_gb:g} GB).")
    lines += ["", "Plots: `streaming.png` (per-step latency and peak memory against L), `training.png` (tokens/s).", ""]
    return "\n".join(lines) + "\n"


def _bf16(settings: ScalingSettings) -> bool:
    """Whether the training job runs under bf16 autocast on this CPU."""
    from lstmkit.train.precision import resolve_precision

    return resolve_precision(settings.precision, "cpu") == "bf16"


def _axes(panels: int):
    plt = pyplot()
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.6), squeeze=False)
    return fig, list(axes[0])


def _short(n: float) -> str:
    """1000 -> 1k, 1000000 -> 1M (tick labels)."""
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= size and n % size == 0:
            return f"{n // size:g}{unit}"
    return f"{n:g}"


def _curves(ax, result: ScalingResult, job: str, key: str, scale: float, found: Crossover | None = None) -> None:
    """Both models' ``key`` against L (log-log), a dotted line where a model stopped, and the crossover."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    for kind in MODELS:
        color, marker = MODEL_STYLE[kind]
        series = result.series(job, kind, key)
        ax.plot(list(series), [v / scale for v in series.values()], marker=marker, color=color, label=kind)
        for r in getattr(result, job):
            if r["model"] == kind and r["status"] not in ("ok", "skipped"):
                ax.axvline(r["length"], color=color, linestyle=":", linewidth=1.2)
                ax.annotate(f"{kind} {r['status']} at L = {_short(r['length'])}", (r["length"], 0.5), rotation=90,
                            xycoords=("data", "axes fraction"), color=color, fontsize=8, ha="right", va="center")  # fmt: skip
    if found is not None and found.length is not None:
        ax.axvline(found.length, color="black", linestyle="-.", linewidth=1, label=f"crossover L ~ {found.length:,.0f}")
    lengths = sorted({r["length"] for r in getattr(result, job)})
    if any(result.series(job, kind, key) for kind in MODELS):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(lengths, labels=[_short(n) for n in lengths])
        ax.xaxis.set_minor_locator(NullLocator())
        low, high = ax.get_ylim()
        narrow = math.log10(high / low) < 1.5  # label more ticks when the data span little more than a decade
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if narrow else (1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("sequence length L (steps)")
    ax.grid(True, which="major", alpha=0.3)


def plot_streaming(result: ScalingResult) -> bytes:
    s = result.settings
    found = result.crossovers()
    fig, (latency, memory) = _axes(2)
    _curves(latency, result, "stream", "step_us_median", 1.0, found.get("latency"))
    latency.set_ylabel(f"per-step latency, median of {s.timed_steps} steps (us)")
    latency.set_title("streaming: time of one step at position L")
    _curves(memory, result, "stream", "peak_rss", MB, found.get("memory"))
    baselines = [r["baseline_rss"] for r in result.stream if "baseline_rss" in r]
    if baselines:
        memory.axhline(statistics.median(baselines) / MB, color="grey", linestyle="--", linewidth=1,
                       label="process baseline (after imports)")  # fmt: skip
    memory.axhline(s.memory_cap_bytes / MB, color="red", linestyle="--", linewidth=1, label=f"memory cap {s.memory_cap_gb:g} GB")
    memory.set_ylabel("peak resident memory, OS-measured (MB)")
    memory.set_title("streaming: peak memory of a run up to position L")
    for ax in (latency, memory):
        ax.legend(fontsize=8)
    z = result.sizes
    fig.suptitle(f"LSTM ({z.lstm_params:,} params) vs causal Transformer with KV cache ({z.transformer_params:,} params), "
                 f"{s.threads} thread(s)")  # fmt: skip
    return figure_png(fig)


def plot_training(result: ScalingResult) -> bytes:
    fig, (ax,) = _axes(1)
    _curves(ax, result, "train", "tokens_per_s", 1.0, result.crossovers().get("training"))
    ax.set_ylabel("training tokens per second (forward + backward + step)")
    ax.set_title(f"training throughput, batches of {result.settings.train_tokens} tokens")
    ax.legend(fontsize=8)
    if not result.train:
        ax.text(0.5, 0.5, "training not measured", transform=ax.transAxes, ha="center")
    return figure_png(fig)


__all__ = [
    "ScalingSettings", "ScalingResult", "ModelSizes", "Crossover", "matched_transformer", "build_model",
    "lstm_parameters", "transformer_parameters", "memory_snapshot", "stream_run", "train_run", "run_isolated",
    "run_in_process", "run_scaling", "crossover", "parse_int_list", "check_lengths", "predicted_training_peak",
]  # fmt: skip


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
