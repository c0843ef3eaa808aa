"""Language-model pre-training of a classifier's encoder: it learns, touches only the encoder, and fits end to end."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, DataError
from lstmkit.nn import LSTM
from lstmkit.tasks.text.lm_pretraining import pretrain_encoder, stream_rows, token_stream
from lstmkit.tasks.text.classifier import TextClassifier


def test_token_stream_drops_padding_and_keeps_order():
    assert token_stream([[5, 6, 0, 0], [7], []]).tolist() == [5, 6, 7]
    rows = stream_rows(torch.arange(10), 3)
    assert rows.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def _cyclic_documents(n_docs: int = 40, period: int = 7, vocab: int = 12) -> list[list[int]]:
    # A deterministic "language": ids cycle 2..2+period-1, so the next token is always predictable.
    return [[2 + (d + t) % period for t in range(30)] for d in range(n_docs)]


def test_pretraining_lowers_the_language_model_loss_in_both_directions():
    torch.manual_seed(0)
    emb = torch.nn.Parameter(torch.randn(12, 8) * 0.1)
    fwd = LSTM(8, 16, batch_first=True)
    bwd = LSTM(8, 16, batch_first=True)
    before = fwd.weight_hh_l0.detach().clone()
    losses = pretrain_encoder(emb, [(fwd, False), (bwd, True)], _cyclic_documents(), epochs=6, batch_size=4,
                              bptt=10, learning_rate=1e-2, dropout=0.0)
    assert len(losses) == 6
    assert losses[-1] < 0.5 * losses[0]  # a predictable stream: the loss falls far below its start
    assert not torch.equal(before, fwd.weight_hh_l0)


def test_pretraining_rejects_too_little_text_and_bad_epochs():
    emb = torch.nn.Parameter(torch.zeros(12, 4))
    rnn = LSTM(4, 4, batch_first=True)
    with pytest.raises(DataError, match="at least batch_size"):
        pretrain_encoder(emb, [(rnn, False)], [[2, 3, 4]], epochs=1, batch_size=4, bptt=8)
    with pytest.raises(ConfigError, match="pretrain epochs"):
        pretrain_encoder(emb, [(rnn, False)], [[2, 3, 4]], epochs=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_fits_after_pretraining(bidirectional):
    texts = [("good great fine nice " * 6), ("bad awful poor sad " * 6)] * 10
    labels = ["pos", "neg"] * 10
    clf = TextClassifier(units=8, embedding_dim=8, max_length=12, epochs=8, batch_size=4, bidirectional=bidirectional,
                         pretrain_epochs=2, learning_rate=0.01)
    clf.fit(texts, labels)
    assert len(clf.pretrain_losses_) == 2
    assert clf.score(texts, labels) == 1.0
    assert clf.get_params()["pretrain_epochs"] == 2
