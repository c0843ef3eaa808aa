"""The Keras-style API: ``Sequential``, ``compile``/``fit``/``evaluate``/``predict``/``summary``, save/load.

>>> import numpy as np
>>> from lstmkit.models import Sequential
>>> from lstmkit.layers import Dense
>>> model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
>>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
>>> history = model.fit(np.zeros((8, 2)), np.zeros(8), epochs=2, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""

from __future__ import annotations

from lstmkit.models import callbacks, losses, metrics, optimizers
from lstmkit.models.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from lstmkit.models.model import Model
from lstmkit.models.functional import Functional
from lstmkit.models.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from lstmkit.models.sequential import Sequential
from lstmkit.models.serialization import load_model, read_metadata
from lstmkit.models.summary import ModelSummary

load = load_model

__all__ = [
    "Model",
    "Functional",
    "Sequential",
    "load",
    "load_model",
    "read_metadata",
    "ModelSummary",
    "Callback",
    "CSVLogger",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "LambdaCallback",
    "Optimizer",
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "callbacks",
    "losses",
    "metrics",
    "optimizers",
]
