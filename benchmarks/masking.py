"""Cost of Keras-style masking: the article's model with and without Embedding(mask_zero=True).

Batch 32, length 400, each row padded at the start with 0-299 zeros, 1 torch thread, one epoch of
10 batches after a warm-up. Prints training samples/s for both and the ratio.

Run: .venv/bin/python benchmarks/masking.py
"""

import time

import numpy as np
import torch

from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential

torch.set_num_threads(1)
rng = np.random.default_rng(0)
x = rng.integers(1, 10000, (32 * 10, 400))
for row in x:
    row[: rng.integers(0, 300)] = 0
y = rng.integers(0, 2, len(x))

speed = {}
for mask_zero in (False, True):
    torch.manual_seed(0)
    model = Sequential([Embedding(10000, 128, mask_zero=mask_zero), LSTM(64), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x[:64], y[:64], epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    speed[mask_zero] = len(x) / (time.perf_counter() - start)
    print(f"mask_zero={mask_zero!s:5}  {speed[mask_zero]:8.1f} samples/s")
print(f"ratio masked/unmasked = {speed[True] / speed[False]:.3f}")
