r"""One-step kernels for live streams: a single time step of a batch of independent streams.

Stepping many live streams means calling a recurrent layer for *one* time step on a batch whose
rows are different streams (often batch 1). A framework call costs several microseconds per
operation there, more than the arithmetic. These kernels work on preallocated NumPy buffers with
the weights laid out once, so one LSTM step is one matrix product and a handful of in-place
element-wise passes.

LSTM step (``x`` ``(B, I)``, ``h``, ``c`` ``(B, H)``; the gate equations of
:mod:`lstmkit.nn.reference`)::

    z = [x, h, 1] @ W'                      W' ((I + H + 1), 4H): weight_ih^T, weight_hh^T, bias
    t = tanh(z)                             one pass over all four gates, because
    sigmoid(a) = (1 + tanh(a / 2)) / 2      the i, f, o columns of W' are pre-scaled by 1/2 (exact)
    c' = ((1 + t_f) * c + (1 + t_i) * t_g) / 2
    h' = (1 + t_o) * tanh(c') / 2

GRU step (PyTorch's ``reset_after`` form, gate order ``r, z, n``)::

    a = x @ W_ih^T + b_ih,  u = h @ W_hh^T + b_hh
    r = sigmoid(a_r + u_r),  z = sigmoid(a_z + u_z),  n = tanh(a_n + r * u_n)
    h' = (1 - z) * n + z * h

SimpleRNN: ``h' = tanh(x @ W_ih^T + h @ W_hh^T + b)``. Dense: ``activation(x @ kernel + bias)``.

For an LSTM with at least :data:`NATIVE_FROM` rows, the element-wise update runs in one fused pass
of a small C kernel compiled on first use (:mod:`lstmkit.nn.native`), when a C compiler is there.
Otherwise batches of at least :data:`TORCH_ELEMENTWISE_FROM` rows use torch's vectorised
element-wise functions on the same memory, and smaller ones NumPy (whose per-call cost is lower). Every kernel is tested equal to the reference step to 1e-5 in float32
(``tests/nn/test_step.py``). Kernels are for inference: no autograd.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from lstmkit.errors import ConfigError

#: batch size from which element-wise passes go through torch instead of NumPy (measured:
#: benchmarks/stream_engine.py --kernels)
TORCH_ELEMENTWISE_FROM = 128
#: batch size from which the compiled cell (:mod:`lstmkit.nn.native`) does the element-wise part,
#: when it is available (below it, the ctypes call costs about what NumPy's passes cost)
NATIVE_FROM = 4
#: batch sizes up to which the compiled whole step (product included) is used, when available
NATIVE_STEP_UPTO = 3


def _native() -> Any:
    from lstmkit.nn.native import load

    return load()


def _lstm_cell(*args: Any) -> None:
    from lstmkit.nn.native import lstm_cell

    lstm_cell(*args)


def _native_step() -> Any:
    from lstmkit.nn.native import load_step

    return load_step()


def _f32(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().to(torch.float32).numpy()
    return np.ascontiguousarray(t, dtype=np.float32)


class _Buffers:
    """Per-batch-size scratch arrays (the few sizes a caller uses; bounded)."""

    def __init__(self, make: Callable[[int], dict[str, np.ndarray]], keep: int = 8) -> None:
        self.make, self.keep, self.by_size = make, keep, {}

    def get(self, batch: int) -> dict[str, np.ndarray]:
        got = self.by_size.get(batch)
        if got is None:
            if len(self.by_size) >= self.keep:
                self.by_size.pop(next(iter(self.by_size)))
            got = self.by_size[batch] = self.make(batch)
        return got


class LSTMStep:
    """One LSTM layer-direction, one step. ``weight_ih`` ``(4H, I)``, ``weight_hh`` ``(4H, H)``,
    biases ``(4H,)`` or ``None`` (PyTorch layout, gates ``i, f, g, o``). No projection, peephole or
    layer norm (those models step through the reference path).

    ``__call__(x (B, I), h (B, H), c (B, H), trace=False)`` returns ``(h', c')`` as new arrays, and
    with ``trace`` also the gates ``{"input_gate", "forget_gate", "candidate", "output_gate"}``, each
    ``(B, H)`` (the names of :class:`lstmkit.nn.trace.StepGates`).
    """

    n_states = 2

    def __init__(self, weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None) -> None:
        wi, wh = _f32(weight_ih), _f32(weight_hh)
        four_h, self.input_size = wi.shape
        self.hidden = h = four_h // 4
        if wh.shape != (four_h, h) or four_h != 4 * h:
            raise ConfigError(f"LSTMStep: weight_hh must be (4H, H) = ({four_h}, {h}), found {wh.shape}")
        b = np.zeros(four_h, np.float32)
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                b = b + _f32(bias)
        w = np.concatenate([wi.T, wh.T, b[None, :]], axis=0)  # (I + H + 1, 4H), gates i f g o
        order = np.r_[0:h, h:2 * h, 3 * h:4 * h, 2 * h:3 * h]  # -> i f o g
        w = np.ascontiguousarray(w[:, order])
        self.w_torch = torch.from_numpy(w.copy())  # unscaled: the torch path applies sigmoid itself
        w[:, :3 * h] *= 0.5
        self.w, self.w_scaled_torch = w, torch.from_numpy(w)
        i_n = self.input_size

        def make(batch: int) -> dict[str, np.ndarray]:
            xh = np.empty((batch, i_n + h + 1), np.float32)
            xh[:, -1] = 1.0
            z = np.empty((batch, 4 * h), np.float32)
            got = {"xh": xh, "z": z, "xh_t": torch.from_numpy(xh), "z_t": torch.from_numpy(z), "z_ptr": z.ctypes.data}
            if batch <= NATIVE_STEP_UPTO:
                import ctypes

                c_in, h_out, c_out = (np.empty((batch, h), np.float32) for _ in range(3))
                args = np.array([batch, i_n + h + 1, h, xh.ctypes.data, self.w_torch.data_ptr(), z.ctypes.data,
                                 c_in.ctypes.data, h_out.ctypes.data, c_out.ctypes.data], np.int64)
                got.update(c_in=c_in, h_out=h_out, c_out=c_out, args=args, args_ptr=ctypes.c_void_p(args.ctypes.data))
            return got

        self._buf = _Buffers(make)

    def __call__(self, x: np.ndarray, h: np.ndarray, c: np.ndarray, trace: bool = False,
                 out: tuple[np.ndarray, np.ndarray] | None = None):
        """One step. ``out``: ``(h_dst, c_dst)`` arrays ``(B, H)`` (rows may be strided) to write the
        new state into; otherwise new arrays are returned."""
        n, i_n, hid = x.shape[0], self.input_size, self.hidden
        buf = self._buf.get(n)
        xh, z = buf["xh"], buf["z"]
        xh[:, :i_n] = x
        xh[:, i_n:i_n + hid] = h
        scale = 1.0
        if n <= NATIVE_STEP_UPTO and not trace:
            step = _native_step()
            if step is not None:
                buf["c_in"][...] = c
                step(buf["args_ptr"])
                if out is not None:
                    out[0][...] = buf["h_out"]
                    out[1][...] = buf["c_out"]
                    return out
                return buf["h_out"].copy(), buf["c_out"].copy()
        native = _native() if n >= NATIVE_FROM else None
        if native is not None and not trace:
            torch.mm(buf["xh_t"], self.w_torch, out=buf["z_t"])
            if out is not None:
                h_out, c_out = out
            else:
                both = np.empty((2, n, hid), np.float32)
                h_out, c_out = both[0], both[1]
            if c.dtype != np.float32 or c.strides[-1] != 4:
                c = np.ascontiguousarray(c, dtype=np.float32)
            _lstm_cell(native, z, c, h_out, c_out, buf["z_ptr"])
            return h_out, c_out
        if n >= TORCH_ELEMENTWISE_FROM:
            zt = buf["z_t"]
            torch.mm(buf["xh_t"], self.w_torch, out=zt)
            sig = zt[:, :3 * hid].sigmoid_()
            g = zt[:, 3 * hid:].tanh_()
            c_new = torch.addcmul(sig[:, hid:2 * hid] * torch.from_numpy(c), sig[:, :hid], g)
            h_out, c_out = torch.tanh(c_new).mul_(sig[:, 2 * hid:]).numpy(), c_new.numpy()
        else:
            if n == 1:  # a vector-matrix product: NumPy's call costs least
                np.dot(xh, self.w, out=z)
            else:  # torch's GEMM is faster than OpenBLAS's for a few rows on one thread
                torch.mm(buf["xh_t"], self.w_scaled_torch, out=buf["z_t"])
            np.tanh(z, out=z)
            z[:, :3 * hid] += 1.0
            c_out = z[:, hid:2 * hid] * c
            c_out += z[:, :hid] * z[:, 3 * hid:]
            c_out *= 0.5
            h_out = np.tanh(c_out)
            h_out *= z[:, 2 * hid:3 * hid]
            h_out *= 0.5
            scale = 0.5
        if out is not None:
            out[0][...] = h_out
            out[1][...] = c_out
            h_out, c_out = out
        if not trace:
            return h_out, c_out
        gates = {"input_gate": z[:, :hid] * scale, "forget_gate": z[:, hid:2 * hid] * scale,
                 "candidate": z[:, 3 * hid:].copy(), "output_gate": z[:, 2 * hid:3 * hid] * scale}
        return h_out, c_out, gates


class GRUStep:
    """One GRU layer-direction, one step (PyTorch layout, gates ``r, z, n``; ``reset_after``).

    ``__call__(x (B, I), h (B, H), trace=False)`` returns ``h'``, and with ``trace`` also
    ``(h', {"reset_gate", "update_gate", "candidate"})``.
    """

    n_states = 1

    def __init__(self, weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None) -> None:
        wi, wh = _f32(weight_ih), _f32(weight_hh)
        three_h, self.input_size = wi.shape
        self.hidden = h = three_h // 3
        if wh.shape != (three_h, h) or three_h != 3 * h:
            raise ConfigError(f"GRUStep: weight_hh must be (3H, H) = ({three_h}, {h}), found {wh.shape}")
        self.wi = np.ascontiguousarray(wi.T)
        self.wh = np.ascontiguousarray(wh.T)
        self.bi = np.zeros(three_h, np.float32) if bias_ih is None else _f32(bias_ih)
        self.bh = np.zeros(three_h, np.float32) if bias_hh is None else _f32(bias_hh)

    def __call__(self, x: np.ndarray, h: np.ndarray, trace: bool = False):
        hid = self.hidden
        a = x @ self.wi
        a += self.bi
        u = h @ self.wh
        u += self.bh
        rz = a[:, :2 * hid] + u[:, :2 * hid]
        rz *= 0.5
        np.tanh(rz, out=rz)
        rz += 1.0
        rz *= 0.5  # sigmoid
        r, zg = rz[:, :hid], rz[:, hid:]
        n = u[:, 2 * hid:] * r
        n += a[:, 2 * hid:]
        np.tanh(n, out=n)
        h_new = n + zg * (h - n)  # (1 - z) n + z h
        return (h_new, {"reset_gate": r.copy(), "update_gate": zg.copy(), "candidate": n.copy()}) if trace else h_new


class RNNStep:
    """One SimpleRNN (tanh) layer-direction, one step: ``h' = tanh(x W_ih^T + h W_hh^T + b)``."""

    n_states = 1

    def __init__(self, weight_ih: Any, weight_hh: Any, bias_ih: Any = None, bias_hh: Any = None) -> None:
        wi, wh = _f32(weight_ih), _f32(weight_hh)
        self.hidden, self.input_size = wi.shape
        b = np.zeros(self.hidden, np.float32)
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                b = b + _f32(bias)
        self.w = np.ascontiguousarray(np.concatenate([wi.T, wh.T, b[None, :]], axis=0))
        i_n, hid = self.input_size, self.hidden

        def make(batch: int) -> dict[str, np.ndarray]:
            xh = np.empty((batch, i_n + hid + 1), np.float32)
            xh[:, -1] = 1.0
            return {"xh": xh}

        self._buf = _Buffers(make)

    def __call__(self, x: np.ndarray, h: np.ndarray, trace: bool = False):
        i_n, hid = self.input_size, self.hidden
        xh = self._buf.get(x.shape[0])["xh"]
        xh[:, :i_n] = x
        xh[:, i_n:i_n + hid] = h
        h_new = np.tanh(xh @ self.w)
        return (h_new, {}) if trace else h_new


def _softmax(y: np.ndarray) -> np.ndarray:
    y -= y.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def _sigmoid(y: np.ndarray) -> np.ndarray:
    y *= 0.5
    np.tanh(y, out=y)
    y += 1.0
    y *= 0.5
    return y


_NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda y: y,
    "relu": lambda y: np.maximum(y, 0.0, out=y),
    "tanh": lambda y: np.tanh(y, out=y),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
}


class DenseStep:
    """``activation(x @ kernel + bias)``; ``kernel`` ``(I, O)`` (Keras layout). ``activation``: a
    name; ``linear``, ``relu``, ``tanh``, ``sigmoid`` and ``softmax`` run in NumPy, any other needs
    ``fn``, the torch function (e.g. the layer's own), applied to the same memory."""

    def __init__(self, kernel: Any, bias: Any = None, activation: str = "linear",
                 fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        k = _f32(kernel)
        b = np.zeros(k.shape[1], np.float32) if bias is None else _f32(bias)
        self.w = np.ascontiguousarray(np.concatenate([k, b[None, :]], axis=0))
        self.input_size, self.units = k.shape
        self._np = _NUMPY_ACTIVATIONS.get(activation)
        self._torch = fn
        if self._np is None and fn is None:
            raise ConfigError(f"DenseStep: activation {activation!r} needs its torch function (fn=...)")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.w[:-1]
        y += self.w[-1]
        if self._np is not None:
            return self._np(y)
        return self._torch(torch.from_numpy(y)).numpy()


__all__ = ["LSTMStep", "GRUStep", "RNNStep", "DenseStep", "TORCH_ELEMENTWISE_FROM", "NATIVE_FROM"]
