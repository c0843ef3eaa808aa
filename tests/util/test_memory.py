"""Up-front memory estimates: a size that cannot fit is one line naming the option, before anything is allocated."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.util.memory import (GIB, TRAIN_BYTES_PER_PARAM, available_bytes, check_fits, check_training_fits,
                                 check_weights_fit, lstm_params, training_bytes)

HUGE = 10 ** 9


@pytest.mark.parametrize("input_size, hidden, layers, bidirectional, proj", [
    (3, 5, 1, False, 0), (3, 5, 2, False, 0), (3, 5, 2, True, 0), (7, 6, 3, True, 2), (1, 1, 1, False, 0),
])
def test_lstm_params_counts_what_torch_allocates(input_size, hidden, layers, bidirectional, proj):
    ref = torch.nn.LSTM(input_size, hidden, layers, bidirectional=bidirectional, proj_size=proj)
    assert lstm_params(input_size, hidden, layers, bidirectional, proj_size=proj) == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("cls, gates", [(torch.nn.GRU, 3), (torch.nn.RNN, 1)])
def test_lstm_params_with_other_gate_counts(cls, gates):
    ref = cls(4, 6, 2, bidirectional=True)
    assert lstm_params(4, 6, 2, True, gates=gates) == sum(p.numel() for p in ref.parameters())


def test_training_bytes_is_weights_gradients_and_adam_moments_plus_activations():
    assert TRAIN_BYTES_PER_PARAM == 16
    assert training_bytes(1000) == 16_000
    assert training_bytes(1000, activation_floats=10) == 16_040


def test_available_bytes_is_a_positive_number_here():
    have = available_bytes()
    assert have is None or (isinstance(have, int) and have > 0)


def test_small_sizes_are_never_checked():
    # below the threshold nothing is compared, even against a machine said to have no memory at all
    check_fits("units", 8, need=1024, what="to train", available=0)
    check_training_fits("units", 8, params=1000, available=0)
    check_weights_fit("units", 8, params=1000, available=0)


def test_a_size_that_fits_passes():
    check_training_fits("units", 4096, params=100_000_000, available=4 * GIB)  # 1.5 GiB of 4


def test_too_large_for_training_is_one_line_naming_the_option():
    with pytest.raises(ConfigError) as e:
        check_training_fits("--units", HUGE, params=4 * HUGE * HUGE, available=8 * GIB)
    msg = str(e.value)
    assert msg.startswith(f"--units: {HUGE} would need about ") and "\n" not in msg
    assert "GiB to train (weights, gradients and Adam moments)" in msg and msg.endswith("this machine has 8.0 GiB available")


def test_too_large_for_the_weights_alone():
    with pytest.raises(ConfigError) as e:
        check_weights_fit("units", 70_000, params=5_000_000_000, available=16 * GIB)  # 18.6 GiB of float32
    assert str(e.value) == "units: 70000 would need about 18.6 GiB for the weights alone; this machine has 16.0 GiB available"


def test_a_gpu_is_named_as_such():
    with pytest.raises(ConfigError, match="this GPU has 1.0 GiB available"):
        check_weights_fit("hidden_size", HUGE, params=HUGE, device="cuda:0", available=GIB)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: __import__("lstmkit.nn", fromlist=["LSTM"]).LSTM(8, HUGE), id="nn.LSTM(8, 1e9)"),
    pytest.param(lambda: __import__("lstmkit.nn", fromlist=["GRU"]).GRU(8, HUGE), id="nn.GRU(8, 1e9)"),
    pytest.param(lambda: __import__("lstmkit.layers", fromlist=["LSTM"]).LSTM(HUGE), id="layers.LSTM(1e9)"),
    pytest.param(lambda: __import__("lstmkit.layers", fromlist=["Embedding"]).Embedding(HUGE * 1000, 8),
                 id="layers.Embedding(1e12, 8)"),
    pytest.param(lambda: __import__("lstmkit.models", fromlist=["Sequential"]).Sequential(
        [__import__("lstmkit.layers", fromlist=["Dense"]).Dense(HUGE * 1000, input_shape=(3,))]), id="Dense(1e12)"),
])
def test_python_api_refuses_sizes_that_cannot_fit(make):
    with pytest.raises(LstmkitError) as e:
        make()
    msg = str(e.value)
    assert "\n" not in msg and "GiB" in msg and str(HUGE) in msg, msg  # 1e9 or 1e12


def test_a_large_but_possible_layer_is_still_built():
    from lstmkit.nn import LSTM

    assert LSTM(8, 64).hidden_size == 64
