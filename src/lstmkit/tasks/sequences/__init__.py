"""Sequence classification of sensor, speech and UCR / UEA time-series data.

* :mod:`~lstmkit.tasks.sequences.classifier`: the :class:`SequenceClassifier` estimator (LSTM-FCN by
  default) and the file work behind ``lstmkit seq``;
* :mod:`~lstmkit.tasks.sequences.networks`: LSTM-FCN / ALSTM-FCN and the plain recurrent network;
* :mod:`~lstmkit.tasks.sequences.recipe`: the data-aware defaults and the preprocessing (per-series
  normalisation, PAA);
* :mod:`~lstmkit.tasks.sequences.baselines`: 1-NN Euclidean, the baseline every result is shown beside.
"""

from __future__ import annotations

__all__ = ["classifier", "networks", "recipe", "baselines"]
