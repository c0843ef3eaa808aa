"""Portable files: a model trained on a GPU loads on a CPU-only machine, and the reverse.

lstmkit files are device-free (every tensor is copied to the CPU when written), so the GPU->CPU
direction is a property of the format, checked here on the bytes; CPU->GPU is ``map_location``.
This machine has no GPU: a request for CUDA must be one clear line, and CUDA random-number states
in a checkpoint written on a GPU machine must be skipped, not crash a resume."""

from __future__ import annotations

import json

import pytest
import torch

import lstmkit
from lstmkit.errors import ConfigError
from lstmkit.layers import LSTM, Dense, Input
from lstmkit.models import Sequential, load_model
from lstmkit.util.devices import place, resolve_device


def _model(tmp_path):
    torch.manual_seed(0)
    m = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(2)])
    path = tmp_path / "m.lstmkit"
    m.save(path)
    return m, path


def test_files_are_device_free_and_load_on_the_cpu(tmp_path):
    _, path = _model(tmp_path)
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    # safetensors records dtype, shape and offsets only: nothing about the device it was trained on
    assert all(set(v) <= {"dtype", "shape", "data_offsets"} for k, v in header.items() if k != "__metadata__")
    for loader in (lstmkit.load, load_model):
        model = loader(path, map_location="cpu")
        assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert {p.device.type for p in lstmkit.load(path, map_location="auto").parameters()} == \
        {"cuda" if torch.cuda.is_available() else "cpu"}


def test_writing_copies_every_tensor_to_the_cpu_first():
    """encode() moves tensors with .cpu(): a file written from GPU tensors holds the same bytes."""
    import inspect

    from lstmkit.util import container

    assert ".cpu()" in inspect.getsource(container.encode)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the refusal cannot be seen")
def test_a_device_this_machine_lacks_is_one_line(tmp_path):
    _, path = _model(tmp_path)
    for where in ("cuda", "cuda:1", torch.device("cuda")):
        with pytest.raises(ConfigError, match=r"has no CUDA device; load with map_location='cpu'"):
            lstmkit.load(path, map_location=where)
    with pytest.raises(ConfigError, match="map_location: expected"):
        resolve_device("tpu-please")
    with pytest.raises(ConfigError, match="map_location: expected"):
        resolve_device("meta")
    thing = object()
    assert place(thing, "cpu") is thing


def test_a_checkpoint_from_a_gpu_machine_resumes_on_the_cpu():
    """CUDA RNG states saved on a GPU machine are skipped where CUDA is absent; the CPU state is restored."""
    from lstmkit.train.checkpoint import rng_state, set_rng_state

    tensors, meta = rng_state()
    tensors = {**tensors, "cuda.0": torch.zeros(16, dtype=torch.uint8)}  # what a GPU machine adds
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    tensors2, meta2 = rng_state()
    set_rng_state({**tensors2, "cuda.0": tensors["cuda.0"]}, meta2)
    assert torch.equal(torch.rand(3), want)


def test_optimizer_state_follows_its_parameters_device():
    """Adam's moments saved from any device load onto the parameters' device (here the CPU)."""
    from lstmkit.train.checkpoint import load_optimizer_state, optimizer_state

    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1)
    p.sum().backward()
    opt.step()
    tensors, meta = optimizer_state(opt)
    q = torch.nn.Parameter(torch.ones(3))
    opt2 = torch.optim.Adam([q], lr=0.1)
    load_optimizer_state(opt2, {k: v.clone() for k, v in tensors.items()}, json.loads(json.dumps(meta)))
    assert all(v.device == q.device for v in opt2.state[q].values() if isinstance(v, torch.Tensor) and v.dim())
