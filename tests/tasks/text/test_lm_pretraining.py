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


def test_pretraining_runs_on_the_engine_with_clip_norm_and_precision():
    from lstmkit.train.precision import bf16_available

    def run(**kw):
        torch.manual_seed(0)
        emb = torch.nn.Parameter(torch.randn(12, 8) * 0.1)
        rnn = LSTM(8, 8, batch_first=True)
        return pretrain_encoder(emb, [(rnn, False)], _cyclic_documents(12), epochs=2, batch_size=4, bptt=10,
                                learning_rate=1e-2, dropout=0.0, **kw)

    # clip is the old name of clip_norm: the same run either way; 0 or None switches clipping off
    assert run(clip=0.05) == run(clip_norm=0.05)
    assert run(clip_norm=0) == run(clip_norm=None) != run(clip_norm=0.05)
    assert len(run(precision="auto")) == 2
    with pytest.raises(ConfigError, match="given twice"):
        run(clip=1.0, clip_norm=1.0)
    with pytest.raises(ConfigError, match="pretrain clip_norm: expected a positive number"):
        run(clip_norm=-1.0)
    if not bf16_available("cpu"):
        with pytest.raises(ConfigError, match=r"^precision 'bf16'"):
            run(precision="bf16")


def test_pretraining_echoes_one_line_per_epoch():
    lines = []
    emb = torch.nn.Parameter(torch.randn(12, 4) * 0.1)
    pretrain_encoder(emb, [(LSTM(4, 4, batch_first=True), False)], _cyclic_documents(12), epochs=2, batch_size=4,
                     bptt=10, echo=lines.append)
    assert [line.split(":")[0] for line in lines] == ["pre-training epoch 1/2", "pre-training epoch 2/2"]
    assert all("nats/token" in line for line in lines)
