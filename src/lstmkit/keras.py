"""Keras's top-level namespace over lstmkit, so that Keras code runs with only its imports changed.

Replace ``import keras`` with ``from lstmkit import keras`` and ``from keras import layers`` with
``from lstmkit.keras import layers``; the rest of the code stays as written::

    from lstmkit import keras
    from lstmkit.keras import layers

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(10000, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)

The names are lstmkit's own objects: ``keras.layers`` is :mod:`lstmkit.layers`, ``keras.Model`` is
:class:`lstmkit.models.Model` (``Model(inputs, outputs)`` gives a Functional model), ``keras.utils`` is
:mod:`lstmkit.utils`, and so on. What lstmkit lacks is absent, so a missing name fails at once with
Python's ``AttributeError`` naming it rather than later with a wrong result.

>>> from lstmkit import keras
>>> keras.layers.LSTM is __import__("lstmkit").layers.LSTM
True
"""

from __future__ import annotations

import types

from lstmkit import layers, utils
from lstmkit.layers import Input
from lstmkit.models import Model, Sequential, callbacks, load_model, losses, metrics, optimizers
from lstmkit import models

#: Keras 2's ``keras.preprocessing.sequence.pad_sequences`` (still common in tutorials), the same function
preprocessing = types.SimpleNamespace(sequence=types.SimpleNamespace(pad_sequences=utils.pad_sequences))

__all__ = ["layers", "models", "utils", "callbacks", "losses", "metrics", "optimizers", "preprocessing",
           "Input", "Model", "Sequential", "load_model"]
