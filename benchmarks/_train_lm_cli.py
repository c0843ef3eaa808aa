"""Shared by the language-model benchmarks: run `lstmkit text train-lm ARGS` (the CLI code path) and time it."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def run_train_lm(args: list[str]) -> float:
    """Run ``lstmkit text train-lm`` with ``args`` in a child process; return its wall time in seconds.

    Prints the command and the machine load first; exits with the child's code if it fails.
    """
    cmd = [sys.executable, "-c", "from lstmkit.cli import app; app()", "text", "train-lm", *args]
    print("command:", " ".join(cmd[3:]), flush=True)
    print(f"cpu count {os.cpu_count()}, load average at start {os.getloadavg()}", flush=True)
    start = time.perf_counter()
    rc = subprocess.call(cmd)
    if rc != 0:
        sys.exit(rc)
    return time.perf_counter() - start
