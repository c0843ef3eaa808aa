"""Precision: fp32 / bf16 / auto, the rule, and one clear line where bf16 cannot run."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError
from lstmkit.train import Trainer, bf16_available, check_precision, cpu_info, precision_reason, resolve_precision
from train_helpers import TinyLM, bptt_batches, lm_step, make_batches, mlp, mse_step, regression_data, token_streams, weights

HAS_BF16 = bf16_available("cpu")


def test_spellings():
    assert check_precision("FP32") == "fp32" and check_precision("bfloat16") == "bf16" and check_precision("auto") == "auto"
    with pytest.raises(ConfigError, match="precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"):
        check_precision("fp16")


def test_fp32_always_and_auto_rule_on_this_cpu():
    assert resolve_precision("fp32") == "fp32"
    info = cpu_info()
    expected = "bf16" if ("amx_bf16" in info.flags and HAS_BF16) else "fp32"
    assert resolve_precision("auto") == expected
    reason = precision_reason("auto")
    assert reason.startswith(expected) and info.name in reason


@pytest.mark.skipif(HAS_BF16, reason="this CPU has bfloat16 units")
def test_bf16_without_units_is_one_line_naming_cpu_and_flags():
    with pytest.raises(ConfigError) as e:
        resolve_precision("bf16")
    msg = str(e.value)
    assert "\n" not in msg and cpu_info().name in msg and "amx_bf16" in msg and "avx512_bf16" in msg
    assert msg.startswith("precision 'bf16': this CPU has no bfloat16 matrix units")
    x, y = regression_data(16)
    model = mlp()
    before = weights(model)
    with pytest.raises(ConfigError, match="precision 'bf16'"):
        Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), mse_step, make_batches(x, y), precision="bf16").fit()
    assert all(torch.equal(v, before[k]) for k, v in weights(model).items())


@pytest.mark.skipif(not HAS_BF16, reason="bf16 parity needs a CPU with bfloat16 matrix units (amx_bf16 or "
                                         "avx512_bf16); this one has neither")
def test_bf16_trains_close_to_fp32():
    streams = token_streams(length=201)
    curves = {}
    for p in ("fp32", "bf16"):
        model = TinyLM(dropout=0.0)
        out = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), lm_step, bptt_batches(streams, 25),
                      epochs=3, precision=p).fit()
        assert out.precision == p
        curves[p] = out.metric("loss")
    assert curves["bf16"][-1] < curves["bf16"][0]
    assert abs(curves["bf16"][-1] - curves["fp32"][-1]) < 0.05 * curves["fp32"][-1]
