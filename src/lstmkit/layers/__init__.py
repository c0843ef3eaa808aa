"""Keras-style layers for :class:`lstmkit.models.Sequential` (each is a ``torch.nn.Module``).

>>> from lstmkit.layers import Embedding, LSTM, Dense
>>> from lstmkit.models import Sequential
>>> model = Sequential([Embedding(10000, 128, input_length=100), LSTM(64), Dense(2, activation="softmax")])
>>> model.count_params()
1329538
"""

from __future__ import annotations

from lstmkit.layers.attention import AttentionPooling
from lstmkit.layers.attention_layers import AdditiveAttention, Attention, MultiHeadAttention
from lstmkit.layers.base import Layer
from lstmkit.layers.bidirectional import Bidirectional
from lstmkit.layers.convolutional import AveragePooling1D, Conv1D, MaxPooling1D
from lstmkit.layers.dense import Activation, Dense
from lstmkit.layers.dropout import Dropout
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.input import Input, InputLayer
from lstmkit.layers.masking import Masking
from lstmkit.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                    concatenate, dot, maximum, minimum, multiply, subtract)
from lstmkit.layers.normalization import BatchNormalization, LayerNormalization
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
__all__ += ["Activation", "Attention", "AdditiveAttention", "MultiHeadAttention", "BatchNormalization"]

#: Keras 3 layers lstmkit does not have, with what to use instead (a clear error instead of a bare AttributeError)
KERAS_LAYERS_MISSING = {
    "ConvLSTM1D": "it comes with video support (see docs/models.md, 'Not supported (yet)')",
    "ConvLSTM2D": "it comes with video support (see docs/models.md, 'Not supported (yet)')",
    "ConvLSTM3D": "it comes with video support (see docs/models.md, 'Not supported (yet)')",
    "Lambda": "lstmkit saves models without pickle, so it has no Lambda layer; write a Layer subclass",
    "RNN": "use LSTM, GRU or SimpleRNN (custom cells are not supported)",
    "LSTMCell": "use LSTM (or lstmkit.nn.LSTMCell for a PyTorch-style cell)",
    "GRUCell": "use GRU",
    "SimpleRNNCell": "use SimpleRNN",
    "StackedRNNCells": "stack LSTM layers with return_sequences=True",
    "Conv2D": "lstmkit's convolutions are 1-D (Conv1D)",
    "MaxPooling2D": "lstmkit's pooling is 1-D (MaxPooling1D)",
    "GlobalAveragePooling2D": "lstmkit's pooling is 1-D (GlobalAveragePooling1D)",
    "GroupNormalization": "use LayerNormalization or BatchNormalization",
    "UnitNormalization": "use LayerNormalization",
    "SpatialDropout1D": "use Dropout",
    "GaussianNoise": "not supported",
    "Cropping1D": "not supported",
    "ZeroPadding1D": "use Conv1D(padding='same' or 'causal')",
    "UpSampling1D": "use RepeatVector or TimeDistributed",
    "Normalization": "standardise the data before fit (lstmkit.data) instead",
    "StringLookup": "use lstmkit.utils.TextVectorization",
    "IntegerLookup": "not supported",
    "CategoryEncoding": "use lstmkit.utils.to_categorical",
}


def __getattr__(name: str):
    if name == "TextVectorization":  # Keras 3 keeps it in keras.layers; lstmkit's lives in lstmkit.utils
        from lstmkit.utils import TextVectorization

        return TextVectorization
    if name in KERAS_LAYERS_MISSING:
        raise AttributeError(f"lstmkit.layers has no Keras layer {name!r}: {KERAS_LAYERS_MISSING[name]}")
    raise AttributeError(f"module 'lstmkit.layers' has no attribute {name!r}")
