"""Data parallelism: --nproc checks, the torchrun command, and 2 real gloo processes against 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lstmkit.errors import ConfigError
from lstmkit.train import distributed, read_info

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("bad", [0, "0", -1, 65, "two", 1.5, True, None, ""])
def test_bad_nproc_is_one_line(bad):
    with pytest.raises(ConfigError) as info:
        distributed.validate_nproc(bad)
    shown = bad if not isinstance(bad, str) or not bad.strip().lstrip("-").isdigit() else int(bad)
    assert str(info.value) == f"--nproc: expected an integer from 1 to 64, found {shown!r}"


def test_nproc_values_and_helpers():
    assert distributed.validate_nproc("4") == 4 and distributed.validate_nproc(1) == 1
    assert distributed.launch(1, ["info"]) is None  # one process: go on in-process
    cmd = distributed.torchrun_command(2, ["text", "train-lm", "x.txt"])
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "lstmkit",
                       "text", "train-lm", "x.txt"]
    assert distributed.threads_per_process(2) == max(1, (os.cpu_count() or 1) // 2)
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.init_from_env() is False  # not under torchrun


def test_workers_run_the_command_without_nproc():
    # torchrun's parser would take --nproc for its own --nproc-per-node; workers never launch again
    assert distributed.worker_argv(["text", "train-lm", "x.txt", "--nproc", "2", "--units", "8"]) == [
        "text", "train-lm", "x.txt", "--units", "8"]
    assert distributed.worker_argv(["--nproc=4", "seq", "train-classifier", "d"]) == ["seq", "train-classifier", "d"]


def test_a_user_error_inside_the_workers_is_one_line(tmp_path, capfd):
    # every worker fails on the missing file; the launcher says it once, without torchrun's report
    missing = str(tmp_path / "missing.lstmkit")
    with pytest.raises(distributed.WorkerError) as info:
        distributed.launch(2, ["forecast", "predict", missing, str(tmp_path / "x.csv"), "--nproc", "2"])
    assert missing in str(info.value) and "\n" not in str(info.value)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ChildFailedError" not in err and "error:" not in err


def test_python_dash_m_lstmkit_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "lstmkit", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage" in out.stdout


def test_two_gloo_processes_give_the_one_process_loss_curve(tmp_path):
    sys.path.insert(0, str(HERE))
    import dist_worker

    one = tmp_path / "one"
    one.mkdir()
    threads = torch.get_num_threads()
    reference = dist_worker.run_all(one)
    torch.set_num_threads(threads)
    two = tmp_path / "two"
    two.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(HERE / "dist_worker.py"), str(two)],
        capture_output=True, text=True, timeout=120, env={**env, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((two / "result.json").read_text())
    assert result["world"] == 2 and reference["world"] == 1
    assert result["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert len(result["losses"]) == len(reference["losses"]) == 14
    torch.testing.assert_close(torch.tensor(result["losses"]), torch.tensor(reference["losses"]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(result["epoch_loss"]), torch.tensor(reference["epoch_loss"]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(result["mae"]), torch.tensor(reference["mae"]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(result["lm_losses"]), torch.tensor(reference["lm_losses"]), rtol=1e-5, atol=1e-6)
    for a, b in zip(result["weights"], reference["weights"]):
        torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=1e-4, atol=1e-5)
    # with a schedule over a time budget both processes used rank 0's clock: the same rate at every step
    rank0, rank1 = result["rates"]
    assert len(rank0) == 6 and rank0 == rank1
    # rank 0 alone wrote the log, once per epoch; the checkpoint holds both processes' carries
    assert len((two / "log.jsonl").read_text().splitlines()) == 2
    info = read_info(two / "lm.ckpt")
    assert info.training["world_size"] == 2 and info.position["step"] == 8
    assert info.group("carry.0")["0"].shape == (1, 2, 16) and info.group("carry.1")["0"].shape == (1, 2, 16)
    assert sorted(p.name for p in two.iterdir()) == ["lm.ckpt", "log.jsonl", "mlp.ckpt", "result.json"]
