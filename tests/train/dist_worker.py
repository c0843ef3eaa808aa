"""Run by the 2-process test under torchrun (and in-process for the 1-process reference).

``python -m torch.distributed.run --standalone --nproc-per-node 2 dist_worker.py OUT_DIR``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lstmkit.train import Cosine, Trainer, distributed  # noqa: E402
from train_helpers import (TinyLM, bptt_batches, lm_step, make_batches, mlp, mse_step, regression_data,  # noqa: E402
                           token_streams)


def run_all(out: Path) -> dict:
    torch.manual_seed(0)
    x, y = regression_data(100)
    model = mlp(dropout=0.0, seed=0)
    losses: list[float] = []
    result = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), mse_step,
                     make_batches(x, y, 16, shuffle=True, seed=1), epochs=2, clip_norm=1.0,
                     on_step=lambda s: losses.append(float(s.loss)), log_path=out / "log.jsonl",
                     checkpoint=out / "mlp.ckpt").fit()
    streams = token_streams(length=121, streams=4)
    lm = TinyLM(dropout=0.0, seed=0)
    lm_losses: list[float] = []
    Trainer(lm, torch.optim.Adam(lm.parameters(), lr=1e-2), lm_step, bptt_batches(streams, 20), epochs=2,
            max_steps=8, on_step=lambda s: lm_losses.append(float(s.loss)), checkpoint=out / "lm.ckpt",
            checkpoint_every=3).fit()
    # a cosine over a time budget: every process must take rank 0's clock, hence the same rates
    timed = mlp(dropout=0.0, seed=0)
    rates: list[float] = []
    Trainer(timed, torch.optim.SGD(timed.parameters(), lr=0.1), mse_step, make_batches(x, y, 16, shuffle=False, seed=1),
            epochs=None, max_steps=6, minutes=30.0, schedule=Cosine(over="time"),
            on_step=lambda s: rates.append(s.lr)).fit()
    return {"losses": losses, "rates": distributed.gather_objects(rates), "epoch_loss": [h["loss"] for h in result.history],
            "mae": [h["mae"] for h in result.history], "lm_losses": lm_losses,
            "weights": [p.detach().flatten().tolist() for p in model.parameters()],
            "world": distributed.world_size(), "threads": torch.get_num_threads()}


if __name__ == "__main__":
    out = Path(sys.argv[1])
    data = run_all(out)
    if distributed.is_main():
        (out / "result.json").write_text(json.dumps(data))
    distributed.shutdown()
