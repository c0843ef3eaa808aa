"""Multi-process data parallelism through ``torchrun`` / ``torch.distributed``.

A command given ``--nproc N`` (N > 1) calls :func:`launch`, which re-runs the same command under
``python -m torch.distributed.run --standalone --nproc-per-node N -m lstmkit ...`` and returns its
exit code. Each worker process then calls :func:`init_from_env` (the engine does it), which joins the
process group from torchrun's environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``), with the ``gloo`` backend on CPU and ``nccl`` on GPU. CPU workers
get ``max(1, cpu_count // N)`` torch threads, so N processes share the cores instead of
oversubscribing them.

Inside the engine, with world size ``W > 1``: every process takes its shard of each *global* batch,
backpropagates its loss weighted by its share of the samples, and one all-reduce per optimizer step
sums the gradients (and the loss and metric sums); the sum divided by the total weight is the
gradient of the global batch's mean loss, so at equal global batch the loss curve of ``W``
processes equals that of one process up to float rounding. Only rank 0 (:func:`is_main`) writes
checkpoints, logs and progress.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import torch

from lstmkit.errors import ConfigError, LstmkitError

MAX_NPROC = 64
_WORKER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")


def validate_nproc(value: Any, name: str = "--nproc") -> int:
    """``value`` as an int in ``[1, 64]``, else a one-line ConfigError (``--nproc: expected ...``)."""
    v: Any = value
    if isinstance(value, str):
        try:
            v = int(value.strip())
        except ValueError:
            v = None
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_NPROC:
        # a number typed on the command line ("0") reads as that number, not as a quoted string
        shown = v if isinstance(value, str) and isinstance(v, int) else repr(value)
        raise ConfigError(f"{name}: expected an integer from 1 to {MAX_NPROC}, found {shown}")
    return v


def available() -> bool:
    return torch.distributed.is_available()


def is_initialized() -> bool:
    return available() and torch.distributed.is_initialized()


def world_size() -> int:
    """Number of processes (1 outside a process group)."""
    return torch.distributed.get_world_size() if is_initialized() else 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return torch.distributed.get_rank() if is_initialized() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """True in rank 0 (and in a single-process run): the process that writes files and prints."""
    return rank() == 0


def is_worker() -> bool:
    """Whether this process was started by torchrun (``LOCAL_RANK`` / ``TORCHELASTIC_RUN_ID`` set)."""
    return any(v in os.environ for v in _WORKER_VARS)


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def threads_per_process(nproc: int) -> int:
    """``max(1, cpu_count // nproc)``: CPU threads for each of ``nproc`` workers."""
    return max(1, (os.cpu_count() or 1) // max(1, nproc))


def init_from_env(backend: str | None = None, threads: int | None = None) -> bool:
    """Join the process group described by torchrun's environment; True when this is a multi-process run.

    Does nothing (returns False) without ``WORLD_SIZE > 1`` in the environment; returns True at once
    when the group already exists. ``backend``: ``"gloo"`` on CPU, ``"nccl"`` with CUDA (default).
    CPU workers get ``threads`` torch threads (default ``max(1, cpu_count // world)``).
    """
    if is_initialized():
        return world_size() > 1
    world = env_world_size()
    if world <= 1 or not available():
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    else:
        torch.set_num_threads(threads or threads_per_process(world))
    torch.distributed.init_process_group(backend=backend)
    return True


def shutdown() -> None:
    """Leave the process group (if any)."""
    if is_initialized():
        torch.distributed.destroy_process_group()


def barrier() -> None:
    if is_initialized() and world_size() > 1:
        torch.distributed.barrier()


def torchrun_command(nproc: int, argv: Sequence[str], module: str = "lstmkit") -> list[str]:
    """The command :func:`launch` runs: ``python -m torch.distributed.run --standalone --nproc-per-node N -m lstmkit ARGV``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", module, *argv]


def worker_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` less ``--nproc N`` / ``--nproc=N``: what the workers run.

    torchrun's own parser sees every argument and refuses ``--nproc`` as an ambiguous abbreviation
    of its ``--nproc-per-node``; the workers do not need it (a worker never launches workers).
    """
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


#: The environment variable naming the file where a worker writes a user error (one line) for the launcher.
ERROR_FILE_VAR = "LSTMKIT_WORKER_ERROR_FILE"


class WorkerError(LstmkitError):
    """A user error that a worker process hit (a bad file or option found only inside the run): its one line."""


def _worker_error(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.splitlines()[0] if text.strip() else ""


def launch(nproc: Any, argv: Sequence[str] | None = None, *, module: str = "lstmkit") -> int | None:
    """Re-run this command in ``nproc`` worker processes; their exit code, or None to go on in-process.

    Returns None (the caller trains in this process) when ``nproc`` is 1 or when this process is
    already a torchrun worker. ``argv`` defaults to ``sys.argv[1:]``; pass the arguments of the
    ``lstmkit`` command (``--nproc`` is taken out for the workers by :func:`worker_argv`).
    """
    n = validate_nproc(nproc)
    if n == 1 or is_worker():
        return None
    argv = worker_argv(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(threads_per_process(n)))
    with tempfile.TemporaryDirectory(prefix="lstmkit-workers-") as tmp:
        error_file = Path(tmp) / "error.txt"
        env[ERROR_FILE_VAR] = str(error_file)
        proc = subprocess.Popen(torchrun_command(n, argv, module), env=env, stderr=subprocess.PIPE, text=True,
                                errors="replace", bufsize=1)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                # Once a worker has reported a user error, what follows is torchrun's failure report
                # (a traceback of its own): the launcher says the one line instead.
                if not _worker_error(error_file):
                    sys.stderr.write(line)
                    sys.stderr.flush()
            code = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
            return 130
        message = _worker_error(error_file)
    if code != 0 and message:
        raise WorkerError(message)
    return code


def report_worker_error(message: str) -> bool:
    """In a torchrun worker started by :func:`launch`: hand a user error's one line to the launcher.

    Returns True when it was handed over (the launcher prints it once and exits 2; the worker then
    prints nothing), False outside such a worker.
    """
    target = os.environ.get(ERROR_FILE_VAR)
    if not target or not is_worker():
        return False
    try:
        with open(target, "a", encoding="utf-8") as f:  # several ranks may fail alike: the first line wins
            f.write(" ".join(str(message).split()) + "\n")
    except OSError:
        return False
    return True


def all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over processes, in place (no-op in a single process)."""
    if is_initialized() and world_size() > 1:
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return t


def broadcast_module_(module: torch.nn.Module, src: int = 0) -> None:
    """Copy ``src``'s parameters and buffers to every process (so all start from the same weights)."""
    if not (is_initialized() and world_size() > 1):
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            torch.distributed.broadcast(t.data, src)


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``src``'s ``obj`` on every process."""
    if not (is_initialized() and world_size() > 1):
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src)
    return box[0]


def gather_objects(obj: Any, dst: int = 0) -> list[Any] | None:
    """Every process's ``obj``, as a list in rank order on ``dst`` (None elsewhere)."""
    if not (is_initialized() and world_size() > 1):
        return [obj]
    out: list[Any] | None = [None] * world_size() if rank() == dst else None
    torch.distributed.gather_object(obj, out, dst=dst)
    return out


def any_flag(flag: bool, device: Any = "cpu") -> bool:
    """True on every process when ``flag`` is True on any of them (one tiny all-reduce)."""
    if not (is_initialized() and world_size() > 1):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)


__all__ = [
    "MAX_NPROC", "validate_nproc", "available", "is_initialized", "world_size", "rank", "local_rank", "is_main",
    "is_worker", "threads_per_process", "init_from_env", "shutdown", "barrier", "torchrun_command", "worker_argv", "launch",
    "WorkerError", "report_worker_error", "ERROR_FILE_VAR",
    "all_reduce_sum_", "broadcast_module_", "broadcast_object", "gather_objects", "any_flag",
]
