"""Keras-style layers for :class:`lstmkit.models.Sequential` (each is a ``torch.nn.Module``).

>>> from lstmkit.layers import Embedding, LSTM, Dense
>>> from lstmkit.models import Sequential
>>> model = Sequential([Embedding(10000, 128, input_length=100), LSTM(64), Dense(2, activation="softmax")])
>>> model.count_params()
1329538
"""

from __future__ import annotations

from lstmkit.layers.attention import AttentionPooling
from lstmkit.layers.base import Layer
from lstmkit.layers.bidirectional import Bidirectional
from lstmkit.layers.convolutional import AveragePooling1D, Conv1D, MaxPooling1D
from lstmkit.layers.dense import Dense
from lstmkit.layers.dropout import Dropout
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.input import Input, InputLayer
from lstmkit.layers.masking import Masking
from lstmkit.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                    concatenate, dot, maximum, minimum, multiply, subtract)
from lstmkit.layers.normalization import LayerNormalization
from lstmkit.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from lstmkit.layers.recurrent import GRU, LSTM, SimpleRNN
from lstmkit.layers.symbolic import KerasTensor
from lstmkit.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from lstmkit.layers.wrappers import TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Embedding", "Masking", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Dense", "Dropout", "AttentionPooling",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "RepeatVector", "TimeDistributed", "LayerNormalization",
           "Flatten", "Reshape", "Permute", "Conv1D", "MaxPooling1D", "AveragePooling1D", "KerasTensor",
           "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot", "concatenate", "add",
           "subtract", "multiply", "average", "maximum", "minimum", "dot"]
