r"""An optional native kernel: the LSTM cell update fused into one pass, compiled on first use.

The step kernels (:mod:`lstmkit.nn.step`) spend about as long on the element-wise gate update as on
the matrix product when many streams step together: five separate passes (sigmoid, tanh, the cell
update, tanh, the output gate) through torch. :func:`lstm_cell` does them in one pass over the
gate pre-activations ``z`` (gates ``i, f, o, g``)::

    c' = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_g)
    h' = sigmoid(z_o) * tanh(c')

with ``sigmoid(x) = 1 / (1 + exp(-x))`` and ``tanh(x) = 1 - 2 / (exp(2x) + 1)``, ``exp`` inline
(range reduction and a degree-7 polynomial, relative error below 1e-7), all vectorised by the C
compiler. No ``-ffast-math``, which would switch the whole process to flush-to-zero when the
library loads. Arguments are clamped to ``[-30, 30]`` (sigmoid) and ``[-15, 15]``
(tanh) first, where both functions are within 1e-12 of their limits, so ``expf`` never overflows.
Tested equal to the reference to 1e-5 (``tests/nn/test_step.py``; measured error about 5e-7).

:func:`load_step` gives a whole step for a few rows (batch 1 above all): the matrix product as
``z = [x, h, 1] @ W`` 64 gate columns at a time, accumulated in registers (``W`` read once per row),
then the same fused update, in one call whose arguments are one preallocated array (a ctypes call
with ten arguments costs more than the step itself at hidden size 64).

The C source below is compiled with the system's C compiler (``cc``/``gcc``, ``-O3 -march=native``,
no fast-math)
into ``~/.cache/lstmkit/native/`` the first time it is needed, keyed by the source, the compiler and
the CPU; later processes load the cached library. Without a compiler, or with
``LSTMKIT_NATIVE=0``, :func:`load` returns ``None`` and the kernels use their NumPy/torch path,
which gives the same numbers a little slower.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>
/* exp(x) for x in [-87, 88]: 2^n e^y with n = round(x / ln 2), y = x - n ln 2 (Cody-Waite, two
   parts of ln 2), e^y by its Taylor series to y^7 (|y| <= ln2/2: relative error below 1e-7).
   Inline, so the loops below vectorise with no library call. */
static inline float lk_exp(float x) {
    float n = rintf(x * 1.44269504089f);
    float y = x - n * 0.693145751953125f;
    y = y - n * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * y + 1.0f / 720.0f;
    p = p * y + 1.0f / 120.0f;
    p = p * y + 1.0f / 24.0f;
    p = p * y + 1.0f / 6.0f;
    p = p * y + 0.5f;
    p = p * y + 1.0f;
    p = p * y + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}
static inline float lk_sigmoid(float x) {
    x = x < -30.0f ? -30.0f : (x > 30.0f ? 30.0f : x);
    return 1.0f / (1.0f + lk_exp(-x));
}
static inline float lk_tanh(float x) {
    x = x < -15.0f ? -15.0f : (x > 15.0f ? 15.0f : x);
    return 1.0f - 2.0f / (lk_exp(2.0f * x) + 1.0f);
}
/* A whole step for a few rows, with every argument in one array (one cheap ctypes argument):
   a = {B, K, H, xh, w, z, c, h_out, c_out}; xh: (B, K) rows [x, h, 1]; w: (K, 4H) row-major, gates
   i f o g, the bias as the last row; z: (B, 4H) scratch; c, h_out, c_out: (B, H) contiguous. */
void lstmkit_lstm_step(const long *a) {
    long B = a[0], K = a[1], H = a[2];
    const float *xh = (const float *)a[3], *w = (const float *)a[4];
    float *z = (float *)a[5];
    const float *c = (const float *)a[6];
    float *h_out = (float *)a[7], *c_out = (float *)a[8];
    long G = 4 * H;
    for (long b = 0; b < B; b++) {
        float *restrict zb = z + b * G;
        const float *restrict xb = xh + b * K;
        /* z_b = xh_b @ w, 64 columns at a time held in registers; w read once per row */
        long j0 = 0;
        for (; j0 + 64 <= G; j0 += 64) {
            float acc[64];
            for (long jj = 0; jj < 64; jj++) acc[jj] = 0.0f;
            for (long k = 0; k < K; k++) {
                const float xk = xb[k];
                const float *restrict wk = w + k * G + j0;
                #pragma omp simd
                for (long jj = 0; jj < 64; jj++) acc[jj] += xk * wk[jj];
            }
            for (long jj = 0; jj < 64; jj++) zb[j0 + jj] = acc[jj];
        }
        for (long j = j0; j < G; j++) {
            float acc = 0.0f;
            for (long k = 0; k < K; k++) acc += xb[k] * w[k * G + j];
            zb[j] = acc;
        }
        const float *restrict cp = c + b * H;
        float *restrict hp = h_out + b * H;
        float *restrict cq = c_out + b * H;
        #pragma omp simd
        for (long j = 0; j < H; j++) {
            float cn = lk_sigmoid(zb[H + j]) * cp[j] + lk_sigmoid(zb[j]) * lk_tanh(zb[3 * H + j]);
            cq[j] = cn;
            hp[j] = lk_sigmoid(zb[2 * H + j]) * lk_tanh(cn);
        }
    }
}
/* z: (B, 4H) rows of stride ldz, gates i f o g; c: (B, H) stride ldc; writes h_out, c_out. */
void lstmkit_lstm_cell(long B, long H, const float *z, long ldz, const float *c, long ldc,
                       float *h_out, long ldh, float *c_out, long ldo) {
    for (long b = 0; b < B; b++) {
        const float *restrict zi = z + b * ldz;
        const float *restrict cp = c + b * ldc;
        float *restrict hp = h_out + b * ldh;
        float *restrict cq = c_out + b * ldo;
        #pragma omp simd
        for (long j = 0; j < H; j++) {
            float cn = lk_sigmoid(zi[H + j]) * cp[j] + lk_sigmoid(zi[j]) * lk_tanh(zi[3 * H + j]);
            cq[j] = cn;
            hp[j] = lk_sigmoid(zi[2 * H + j]) * lk_tanh(cn);
        }
    }
}
"""

# Not -ffast-math: its start-up code would switch the whole process to flush-to-zero. The inputs are
# clamped and finite, so finite-math and reciprocal approximations (refined by a Newton step) are safe.
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-ffinite-math-only", "-fno-signed-zeros",
         "-freciprocal-math", "-mrecip=all", "-fassociative-math", "-fopenmp-simd", "-fPIC", "-shared"]
_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache_dir() -> Path:
    return Path(os.environ.get("LSTMKIT_CACHE", Path.home() / ".cache" / "lstmkit")) / "native"


def _compile(compiler: str, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "cell.c"
        src.write_text(SOURCE)
        out = Path(tmp) / "cell.so"
        for flags in (FLAGS, [f for f in FLAGS if not f.startswith("-mrecip")]):  # -mrecip is x86-only
            done = subprocess.run([compiler, *flags, str(src), "-o", str(out), "-lm"], capture_output=True, timeout=60)
            if done.returncode == 0:
                os.replace(out, target) if out.stat().st_dev == target.parent.stat().st_dev else shutil.move(out, target)
                return True
    return False


def load() -> Any | None:
    """The compiled ``lstmkit_lstm_cell`` (a ctypes function), or ``None`` when unavailable."""
    if os.environ.get("LSTMKIT_NATIVE", "1") == "0":
        return None
    with _lock:
        if "cell" in _loaded:
            return _loaded["cell"]
        fn = step = None
        try:
            compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
            if compiler is not None and platform.system() == "Linux":
                key = hashlib.sha256("\n".join([SOURCE, " ".join(FLAGS), compiler, _cpu()]).encode()).hexdigest()[:20]
                target = _cache_dir() / f"cell-{key}.so"
                if target.exists() or _compile(compiler, target):
                    lib = ctypes.CDLL(str(target))
                    fn = lib.lstmkit_lstm_cell
                    long_, ptr = ctypes.c_long, ctypes.c_void_p
                    fn.argtypes = [long_, long_, ptr, long_, ptr, long_, ptr, long_, ptr, long_]
                    fn.restype = None
                    step = lib.lstmkit_lstm_step
                    step.argtypes = [ptr]
                    step.restype = None
        except (OSError, subprocess.SubprocessError, AttributeError):
            fn = step = None
        _loaded["cell"], _loaded["step"] = fn, step
        return fn


def load_step() -> Any | None:
    """The compiled whole-step function ``lstmkit_lstm_step(args)`` (see :data:`SOURCE`), or ``None``."""
    load()
    return _loaded.get("step")


def lstm_cell(fn: Any, z: Any, c: Any, h_out: Any, c_out: Any, z_ptr: int | None = None) -> None:
    """Run the compiled cell on float32 NumPy arrays (rows may be strided; columns contiguous).
    ``z_ptr``: ``z``'s address when the caller has it (reading it costs about a microsecond)."""
    b, four_h = z.shape
    fn(b, four_h // 4, z.ctypes.data if z_ptr is None else z_ptr, z.strides[0] // 4, c.ctypes.data, c.strides[0] // 4,
       h_out.ctypes.data, h_out.strides[0] // 4, c_out.ctypes.data, c_out.strides[0] // 4)


__all__ = ["load", "load_step", "lstm_cell", "SOURCE"]
