"""Quick timing script (not a test): fused fast path vs plain torch.nn.LSTM, reference loop 1 vs 2 threads.

Run: .venv/bin/python benchmarks/nn_paths.py [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from lstmkit.nn import LSTM


def timeit(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the fused comparison")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")

    # 1) fused: lstmkit fast path vs plain torch (same weights), inference and training step
    for (L, N, H_in, H) in [(5, 1, 8, 16), (100, 32, 128, 64), (200, 64, 128, 128)]:
        torch.manual_seed(0)
        ours = LSTM(H_in, H, batch_first=True)
        ref = torch.nn.LSTM(H_in, H, batch_first=True)
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(N, L, H_in)
        rep = max(3, int(2000 / (L * N ** 0.5)))
        with torch.no_grad():
            # interleaved rounds, best of each: the machine is shared and noisy
            t_ours = t_ref = float("inf")
            for _ in range(5):
                t_ours = min(t_ours, timeit(lambda: ours(x), rep))
                t_ref = min(t_ref, timeit(lambda: ref(x), rep))
        def train(m):
            out, _ = m(x)
            out.sum().backward()
        tr_ours = timeit(lambda: train(ours), max(2, rep // 3))
        tr_ref = timeit(lambda: train(ref), max(2, rep // 3))
        print(f"fused  L={L:4d} N={N:3d} H_in={H_in:3d} H={H:3d}: no_grad ours {t_ours*1e3:8.3f} ms torch {t_ref*1e3:8.3f} ms "
              f"(throughput ratio {t_ref/t_ours:.3f}); fwd+bwd ours {tr_ours*1e3:8.3f} ms torch {tr_ref*1e3:8.3f} ms "
              f"(ratio {tr_ref/tr_ours:.3f})")

    # 2) reference loop vs fused, with 1 and 2 torch threads (the loop's own thread switch disabled)
    import lstmkit.nn.threads as threads

    threads.LOOP_THREADS = None
    L, N, H_in, H = 50, 32, 64, 64
    torch.manual_seed(0)
    m = LSTM(H_in, H)
    x = torch.randn(L, N, H_in)
    a = torch.randn(32, 64)
    b = torch.randn(64, 256)
    for nthreads in (1, 2):
        torch.set_num_threads(nthreads)
        t_mm = timeit(lambda: a @ b, 2000)
        with torch.no_grad():
            t_fast = timeit(lambda: m(x), 20)
            t_refl = timeit(lambda: m.reference_forward(x), 5)
        def train_ref():
            out, _ = m.reference_forward(x)
            out.sum().backward()
        tr_refl = timeit(train_ref, 3)
        print(f"{nthreads} thread(s): 32x64@64x256 matmul {t_mm*1e6:8.1f} us; L={L} N={N} H_in={H_in} H={H}: "
              f"fused {t_fast*1e3:7.2f} ms, reference {t_refl*1e3:7.2f} ms (no_grad), reference fwd+bwd {tr_refl*1e3:7.2f} ms")
    threads.LOOP_THREADS = 1
    torch.set_num_threads(2)
    with torch.no_grad():
        t_switch = timeit(lambda: m.reference_forward(x), 5)
    tr_switch = timeit(train_ref, 3)
    print(f"2 threads with lstmkit's loop_threads() switch to 1 inside the loop: reference {t_switch*1e3:7.2f} ms (no_grad), "
          f"fwd+bwd {tr_switch*1e3:7.2f} ms (forward loop and its backward switched)")


if __name__ == "__main__":
    main()
