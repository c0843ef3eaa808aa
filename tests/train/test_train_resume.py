"""Checkpoints and exact resume: bit for bit, Ctrl-C, and bad checkpoints that fail cleanly without damage."""

from __future__ import annotations

import json
import os
import signal
import struct

import pytest
import torch

from lstmkit.errors import ConfigError, ModelFileError
from lstmkit.train import CHECKPOINT_KIND, EarlyStopping, Trainer, read_info
from lstmkit.util.container import load_tensors, save_tensors
from train_helpers import (TinyLM, assert_bitwise_equal, bptt_batches, evaluate_on, lm_step, make_batches, mlp,
                           mse_step, regression_data, token_streams, weights)


def _mlp_run(ckpt, stop_at=None, resume=False, grad_accum=1, epochs=3, **options):
    torch.manual_seed(123)  # the dropout stream starts from the same state in every run
    x, y = regression_data(80)
    model = mlp(dropout=0.3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hook = (lambda s: s.step == stop_at) if stop_at is not None else None
    options.setdefault("fingerprint", {"units": 8})
    result = Trainer(model, opt, mse_step, make_batches(x, y, 12, shuffle=True, seed=5), epochs=epochs,
                     grad_accum=grad_accum, clip_norm=1.0, checkpoint=ckpt, resume=resume, on_step=hook,
                     evaluate=evaluate_on(x[:20], y[:20]), **options).fit()
    return model, result


@pytest.mark.parametrize("stop_at", [4, 7, 14])  # mid-epoch (7 steps per epoch), at an epoch's end, later
def test_resume_is_bitwise_with_dropout_and_shuffling(tmp_path, stop_at):
    full, full_result = _mlp_run(tmp_path / "full.ckpt")
    ckpt = tmp_path / "run.ckpt"
    torch.manual_seed(999)  # whatever state the process is in, the resumed run restores its own
    _, first = _mlp_run(ckpt, stop_at=stop_at)
    assert first.interrupted and first.stop_reason == "hook" and first.steps == stop_at
    torch.manual_seed(4242)
    resumed, second = _mlp_run(ckpt, resume=True)
    assert second.resumed and second.steps == full_result.steps
    assert_bitwise_equal(weights(resumed), weights(full))
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(second.history) == strip(full_result.history)  # losses, metrics, evaluations, lr: all equal


def test_resume_is_bitwise_with_grad_accumulation_and_plateau(tmp_path):
    full, _ = _mlp_run(tmp_path / "full.ckpt", grad_accum=3, schedule="plateau")
    ckpt = tmp_path / "run.ckpt"
    _mlp_run(ckpt, stop_at=2, grad_accum=3, schedule="plateau")
    resumed, _ = _mlp_run(ckpt, resume=True, grad_accum=3, schedule="plateau")
    assert_bitwise_equal(weights(resumed), weights(full))


def test_resume_is_bitwise_with_early_stopping_state(tmp_path):
    es = lambda: EarlyStopping("val_loss", patience=1, min_delta=10.0)  # noqa: E731 - stops after epoch 2
    full, fr = _mlp_run(tmp_path / "full.ckpt", early_stopping=es(), epochs=5)
    ckpt = tmp_path / "run.ckpt"
    _mlp_run(ckpt, stop_at=9, early_stopping=es(), epochs=5)
    resumed, rr = _mlp_run(ckpt, resume=True, early_stopping=es(), epochs=5)
    assert fr.stop_reason == rr.stop_reason == "early_stopping" and rr.best_epoch == fr.best_epoch == 1
    assert_bitwise_equal(weights(resumed), weights(full))


def _lm_run(ckpt, stop_at=None, resume=False, epochs=2):
    torch.manual_seed(7)
    streams = token_streams(length=161, streams=4)
    model = TinyLM(dropout=0.25)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    hook = (lambda s: s.step == stop_at) if stop_at is not None else None
    init = lambda epoch: (torch.zeros(1, 4, 16), torch.zeros(1, 4, 16))  # noqa: E731
    result = Trainer(model, opt, lm_step, bptt_batches(streams, 25), epochs=epochs, clip_norm=0.5, schedule="cosine",
                     init_carry=init, checkpoint=ckpt, resume=resume, on_step=hook, extra={"vocab": list("abc")}).fit()
    return model, result


def test_resume_is_bitwise_with_tbptt_carry(tmp_path):
    full, _ = _lm_run(tmp_path / "full.ckpt")
    ckpt = tmp_path / "lm.ckpt"
    _lm_run(ckpt, stop_at=3)  # mid-epoch: the carried (h, c) is in the checkpoint
    info = read_info(ckpt)
    assert info.position["batch"] == 3 and info.extra == {"vocab": ["a", "b", "c"]}
    assert info.group("carry.0")["0"].shape == (1, 4, 16)
    resumed, result = _lm_run(ckpt, resume=True)
    assert result.extra == {"vocab": ["a", "b", "c"]}
    assert_bitwise_equal(weights(resumed), weights(full))


def test_ctrl_c_saves_a_valid_checkpoint_at_the_next_step(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    x, y = regression_data(80)
    model = mlp()

    def on_step(state):
        if state.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C would

    result = Trainer(model, torch.optim.Adam(model.parameters()), mse_step, make_batches(x, y, 12), epochs=3,
                     checkpoint=ckpt, on_step=on_step).fit()
    assert result.interrupted and result.stop_reason == "interrupted" and result.steps == 3
    info = read_info(ckpt)
    assert info.position == {"epoch": 0, "batch": 3, "step": 3, "elapsed": info.position["elapsed"]}
    tensors, meta = load_tensors(ckpt)
    assert meta["kind"] == CHECKPOINT_KIND and any(k.startswith("optim.") for k in tensors)
    # the handler is gone afterwards
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_checkpoint_every_and_resume_of_a_finished_run_trains_longer(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    _, r1 = _mlp_run(ckpt, epochs=1, checkpoint_every=2)
    assert read_info(ckpt).position["step"] == r1.steps == 7
    _, r2 = _mlp_run(ckpt, resume=True, epochs=2)
    assert r2.steps == 14 and len(r2.history) == 2


# ------------------------------------------------------------------------------------------ bad checkpoints
@pytest.fixture
def good_ckpt(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    _mlp_run(ckpt, stop_at=3)
    return ckpt


def _resume_fails(ckpt, exc, match, **run_options):
    before = ckpt.read_bytes()
    with pytest.raises(exc, match=match) as info:
        _mlp_run(ckpt, resume=True, **run_options)
    assert "\n" not in str(info.value)
    assert ckpt.read_bytes() == before  # never damaged
    return str(info.value)


def test_fingerprint_mismatch_names_the_field(good_ckpt):
    msg = _resume_fails(good_ckpt, ConfigError, "resume: units", fingerprint={"units": 16})
    assert msg == (f"resume: units was 8 in {str(good_ckpt)!r}, found 16 "
                   "(a resumed run must use the checkpoint's settings)")
    _resume_fails(good_ckpt, ConfigError, "resume: grad_accum was 1 .* found 2", grad_accum=2)
    _resume_fails(good_ckpt, ConfigError, "resume: schedule was", schedule="cosine")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="resume: no checkpoint .* to resume from"):
        _mlp_run(tmp_path / "none.ckpt", resume=True)


def test_truncated_checkpoint(good_ckpt):
    data = good_ckpt.read_bytes()
    good_ckpt.write_bytes(data[: len(data) // 2])
    _resume_fails(good_ckpt, ModelFileError, "checkpoint .*: truncated")
    good_ckpt.write_bytes(data[:5])
    _resume_fails(good_ckpt, ModelFileError, "checkpoint .*: not an lstmkit .*truncated")


def test_corrupted_checkpoint_bytes_and_header(good_ckpt):
    data = bytearray(good_ckpt.read_bytes())
    data[-10] ^= 0xFF  # a flipped bit in the tensor data
    good_ckpt.write_bytes(bytes(data))
    _resume_fails(good_ckpt, ModelFileError, "checkpoint .*: corrupted \\(the weights do not match their checksum\\)")


def _rewrite_meta(path, **changes):
    tensors, meta = load_tensors(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version", "lstmkit_version", "weights_sha256", "sha256")}
    kind = changes.pop("kind", meta.pop("kind"))
    meta.pop("kind", None)
    meta.update(changes)
    save_tensors(path, tensors, meta, kind=kind)


def test_edited_metadata_is_detected(good_ckpt):
    n = struct.unpack("<Q", good_ckpt.read_bytes()[:8])[0]
    data = bytearray(good_ckpt.read_bytes())
    header = data[8:8 + n].decode()
    edited = header.replace('\\"step\\": 3', '\\"step\\": 7', 1)
    assert edited != header
    good_ckpt.write_bytes(bytes(data[:8]) + edited.encode() + bytes(data[8 + n:]))
    _resume_fails(good_ckpt, ModelFileError, "metadata does not match its checksum")


def test_schema_is_checked_even_with_a_valid_checksum(good_ckpt):
    info = read_info(good_ckpt)
    training = dict(info.training)
    training["position"] = {**training["position"], "epoch": -7}
    _rewrite_meta(good_ckpt, training=json.dumps(training))
    _resume_fails(good_ckpt, ModelFileError, "'position.epoch' should be a number >= 0, found -7")


def test_foreign_kind_and_version(good_ckpt, tmp_path):
    _rewrite_meta(good_ckpt, kind="language_model")
    _resume_fails(good_ckpt, ModelFileError, "is a language model, not a training checkpoint")
    _rewrite_meta(good_ckpt, kind=CHECKPOINT_KIND, train_checkpoint_version="9")
    _resume_fails(good_ckpt, ModelFileError, "training-checkpoint version '9' is not one this lstmkit reads")
    other = tmp_path / "other.bin"
    other.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="checkpoint .*: not an lstmkit"):
        read_info(other)


def test_checkpoint_of_another_model(tmp_path):
    ckpt = tmp_path / "lm.ckpt"
    _lm_run(ckpt, stop_at=2)
    before = ckpt.read_bytes()
    x, y = regression_data(80)
    model = mlp()
    with pytest.raises(ModelFileError, match="holds another model"):
        Trainer(model, torch.optim.Adam(model.parameters(), lr=5e-3), mse_step, make_batches(x, y), epochs=2,
                clip_norm=0.5, schedule="cosine", checkpoint=ckpt, resume=True).fit()
    assert ckpt.read_bytes() == before


def test_a_failed_precision_check_leaves_the_checkpoint(good_ckpt):
    from lstmkit.train import bf16_available

    if bf16_available("cpu"):
        pytest.skip("this CPU runs bf16")
    _resume_fails(good_ckpt, ConfigError, "precision 'bf16': this CPU has no bfloat16 matrix units", precision="bf16")
