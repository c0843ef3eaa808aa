"""Time one training step of the long-range benchmark models, at 1 and 2 torch threads.

    .venv/bin/python benchmarks/longrange_step.py [--task adding] [--length 200] [--models rnn,gru,lstm,transformer]
        [--threads 1,2] [--repeats 5] [--steps 20] [--adam foreach,fused]

One step = sample a batch of 64, forward, backward, clip, Adam (``lstmkit.bench.longrange.training_step``),
at matched parameter counts (LSTM 128 units). The thread settings are interleaved (repeat r runs
every setting once) and the median over repeats of the mean step time is reported, with the ratio
to the first thread setting. A plain ``torch.nn.LSTM`` (128 units, Linear readout, same step) is
timed beside ``lstm`` as the peer: the calibration model of the issue.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from lstmkit.nn.threads import torch_threads
from lstmkit.bench.longrange import generator, make_task, matched_sizes, build_model, training_step


class PlainTorchLSTM(nn.Module):
    def __init__(self, input_size: int, hidden: int, output_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden)
        with torch.no_grad():
            self.lstm.bias_ih_l0[hidden : 2 * hidden].fill_(1.0)
            self.lstm.bias_hh_l0[hidden : 2 * hidden].zero_()
        self.head = nn.Linear(hidden, output_size)

    def forward(self, x):
        return self.head(self.lstm(x)[0][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="adding")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--models", default="rnn,gru,lstm,transformer")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--adam", default="foreach", help="Adam implementations to compare: foreach, fused")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True, help="time plain torch.nn.LSTM too")
    args = parser.parse_args()

    task = make_task(args.task)
    sizes = matched_sizes(args.models.split(","), task, 128)
    threads = [int(t) for t in args.threads.split(",")]
    print(f"torch {torch.__version__}, task {task.name}, T={args.length}, batch 64, {args.steps} steps x {args.repeats} repeats, "
          f"threads {threads}, default threads {torch.get_num_threads()}")
    setups = []
    for kind, spec in sizes.items():
        for adam in args.adam.split(","):
            torch.manual_seed(0)
            setups.append((f"{kind} ({spec.params} params, adam {adam})", build_model(spec, task, args.length), adam))
    if args.peer and task.name == "adding":
        torch.manual_seed(0)
        setups.append(("torch.nn.LSTM 128 (peer, adam foreach)", PlainTorchLSTM(2, 128, 1), "foreach"))

    times: dict[tuple[str, int], list[float]] = {}
    data = generator(0, "bench")
    batches = [task.sample(64, args.length, data) for _ in range(args.steps)]
    for name, model, adam in setups:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **{adam: True})
        for n in threads:  # warm-up
            with torch_threads(n):
                training_step(model, task, optimizer, *batches[0], 1.0)
        for _ in range(args.repeats):
            for n in threads:
                with torch_threads(n):
                    start = time.perf_counter()
                    for x, y in batches:
                        training_step(model, task, optimizer, x, y, 1.0)
                    times.setdefault((name, n), []).append((time.perf_counter() - start) / args.steps)
        row = [f"{statistics.median(times[(name, n)]) * 1000:8.1f} ms" for n in threads]
        base = statistics.median(times[(name, threads[0])])
        ratios = [f"{statistics.median(times[(name, n)]) / base:.2f}x" for n in threads[1:]]
        print(f"{name:<45} " + "  ".join(f"{n} thr {r}" for n, r in zip(threads, row)) +
              (f"   ratio {threads[1]}/{threads[0]} threads: {', '.join(ratios)}" if ratios else ""), flush=True)


if __name__ == "__main__":
    main()
