"""lstmkit.tasks.text.language_model: TBPTT training, checkpoints, resume, evaluation, generation."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from lstmkit.errors import ConfigError, ModelFileError
from lstmkit.tasks.text.lm_network import LanguageModel
from lstmkit.models.serialization import load_tensors
from lstmkit.tasks.text.language_model import (
    LanguageModelGenerator, LMConfig, checkpoint_path, evaluate_file, load_language_model, train_language_model,
)

warnings.filterwarnings("ignore", message="LSTM with projections")

TINY = LMConfig(level="char", layers=2, units=24, bptt=12, batch_size=6, epochs=2, dropout=0.1, lr=5e-3)


@pytest.fixture
def text_file(tmp_path, shared_data):
    path = tmp_path / "tiny.txt"
    path.write_text((shared_data / "tinyshakespeare" / "input.txt").read_text()[:6000])
    return path


def _weights(path):
    return load_language_model(path)[0].state_dict()


def test_model_ties_weights_and_projects():
    m = LanguageModel(30, embedding_size=8, hidden_size=16, num_layers=2)
    assert m.decoder.weight is m.embedding.weight and m.lstm.proj_size == 8
    assert "decoder.weight" not in m.tensors()
    untied = LanguageModel(30, 8, 16, tie_weights=False)
    assert untied.decoder.weight is not untied.embedding.weight
    with pytest.raises(ConfigError, match="tie_weights"):
        LanguageModel(30, embedding_size=32, hidden_size=16)


def test_tiny_model_learns(text_file, tmp_path):
    cfg = LMConfig(**{**TINY.__dict__, "epochs": 5, "lr": 2e-2, "dropout": 0.0})
    result = train_language_model(text_file, tmp_path / "m.lstmkit", cfg)
    h = result.history
    assert len(h) == 5 and h[-1].train_loss < h[0].train_loss - 0.5 and h[-1].val_loss < h[0].val_loss - 0.5
    assert h[-1].val_loss < math.log(result.vocab_size)  # better than uniform
    assert result.output.is_file() and checkpoint_path(result.output).is_file()
    # held-out 10%: 5400 + 600 characters
    assert (result.train_tokens, result.valid_tokens) == (5400, 600)
    assert evaluate_file(result.output, text_file, bptt=12) > 0


@pytest.mark.parametrize("stop_at", [30, 100])  # mid-epoch 1 and mid-epoch 2 (75 steps an epoch)
def test_resume_equals_uninterrupted(text_file, tmp_path, stop_at):
    full = train_language_model(text_file, tmp_path / "full.lstmkit", TINY)
    part = train_language_model(text_file, tmp_path / "part.lstmkit", TINY, on_step=lambda s: s == stop_at)
    assert part.interrupted and part.output is None and part.steps == stop_at
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG state of the caller
    resumed = train_language_model(text_file, tmp_path / "part.lstmkit", TINY, resume=True)
    assert resumed.steps == full.steps and resumed.val_loss == full.val_loss
    a, b = _weights(full.output), _weights(resumed.output)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_at_epoch_boundary_and_train_longer(text_file, tmp_path):
    one = LMConfig(**{**TINY.__dict__, "epochs": 1})
    full = train_language_model(text_file, tmp_path / "full.lstmkit", TINY)
    first = train_language_model(text_file, tmp_path / "b.lstmkit", one)
    assert first.epochs_completed == 1 and not first.interrupted
    resumed = train_language_model(text_file, tmp_path / "b.lstmkit", TINY, resume=True)  # epochs 1 -> 2
    assert resumed.val_loss == full.val_loss
    a, b = _weights(full.output), _weights(resumed.output)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_holds_full_training_state(text_file, tmp_path):
    train_language_model(text_file, tmp_path / "m.lstmkit", TINY, on_step=lambda s: s == 10)
    tensors, meta = load_tensors(checkpoint_path(tmp_path / "m.lstmkit"))
    assert meta["kind"] == "language_model_checkpoint"
    assert {"rng.torch", "rng.numpy_keys", "hidden.h", "hidden.c"} <= set(tensors)
    assert any(k.startswith("optim.") for k in tensors)
    training = json.loads(meta["training"])
    assert training["position"]["global_step"] == 10 and "python" in training["rng"]


def test_resume_rejects_other_settings_and_missing_checkpoint(text_file, tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint"):
        train_language_model(text_file, tmp_path / "none.lstmkit", TINY, resume=True)
    train_language_model(text_file, tmp_path / "m.lstmkit", TINY, on_step=lambda s: s == 5)
    with pytest.raises(ConfigError, match="units"):
        train_language_model(text_file, tmp_path / "m.lstmkit", LMConfig(**{**TINY.__dict__, "units": 32}), resume=True)


def test_time_budget_stops_and_saves(text_file, tmp_path):
    cfg = LMConfig(**{**TINY.__dict__, "epochs": None, "minutes": 0.02})
    result = train_language_model(text_file, tmp_path / "t.lstmkit", cfg)
    assert result.stopped_by_time and result.output.is_file() and math.isfinite(result.val_loss)


def test_generation_reproducible_and_save_load_identical(text_file, tmp_path):
    result = train_language_model(text_file, tmp_path / "m.lstmkit", TINY)
    gen = LanguageModelGenerator.load(result.output)
    pieces = list(gen.generate("ROMEO:", 40, temperature=0.8, top_k=10, seed=1))
    assert len(pieces) == 40
    assert "".join(LanguageModelGenerator.load(result.output).generate("ROMEO:", 40, 0.8, 10, seed=1)) == "".join(pieces)
    # the checkpoint generates the same text (same weights)
    assert "".join(LanguageModelGenerator.load(result.checkpoint).generate("ROMEO:", 40, 0.8, 10, seed=1)) == "".join(pieces)
    model, vocab, _, _ = load_language_model(result.output)
    x = torch.tensor(vocab.encode(list("First Citizen")), dtype=torch.long).view(-1, 1)
    model2 = load_language_model(result.output)[0]
    assert torch.equal(model(x)[0], model2(x)[0])
    assert gen.unknown("ROMEO€") == ["€"]


def test_word_level(tmp_path):
    lines = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 40
    path = tmp_path / "words.txt"
    path.write_text("\n".join(" " + line for line in lines) + "\n")
    cfg = LMConfig(level="word", layers=1, units=16, bptt=8, batch_size=4, epochs=3, dropout=0.0, lr=1e-2)
    result = train_language_model(path, tmp_path / "w.lstmkit", cfg)
    assert result.level == "word" and result.history[-1].val_loss < result.history[0].val_loss
    assert "perplexity" in result.metric_text()
    text = "".join(LanguageModelGenerator.load(result.output).generate("the cat", 20, seed=0))
    assert text.startswith(" ") and len(text.split()) >= 10


def test_wrong_kind_and_bad_generation_values(tmp_path, text_file):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    clf = tmp_path / "clf.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(clf)
    with pytest.raises(ModelFileError, match="Sequential model.*not a language model"):
        LanguageModelGenerator.load(clf)
    result = train_language_model(text_file, tmp_path / "m.lstmkit", LMConfig(**{**TINY.__dict__, "epochs": 1}))
    from lstmkit.models import load_model

    with pytest.raises(ModelFileError, match="language_model"):
        load_model(result.output)
    gen = LanguageModelGenerator.load(result.output)
    for kwargs, field in [({"length": 0}, "length"), ({"temperature": 0}, "temperature"), ({"top_k": 0}, "top_k")]:
        with pytest.raises(ConfigError, match=field):
            gen.generate("a", **{"length": 5, **kwargs})


def test_model_doctest():
    import doctest

    from lstmkit.tasks.text import lm_network as language_model

    result = doctest.testmod(language_model, verbose=False)
    assert result.failed == 0 and result.attempted > 0


def test_bf16_refused_with_one_line_where_the_cpu_lacks_it(text_file, tmp_path, monkeypatch):
    from lstmkit.tasks.text import language_model as lm

    monkeypatch.setattr(lm, "bf16_supported", lambda: False)
    cfg = LMConfig(**{**TINY.__dict__, "precision": "bf16"})
    with pytest.raises(ConfigError, match=r"precision bf16: this CPU has no bfloat16 .*use --precision fp32"):
        train_language_model(text_file, tmp_path / "b.lstmkit", cfg)
    assert not (tmp_path / "b.lstmkit").exists() and not checkpoint_path(tmp_path / "b.lstmkit").exists()


def test_bf16_precision_trains_close_to_fp32(text_file, tmp_path):
    # bf16 autocasts the forward pass only: the same seed gives nearly the same first-epoch loss, and it learns.
    from lstmkit.tasks.text.language_model import bf16_supported

    if not bf16_supported():
        pytest.skip(f"this CPU ({torch.backends.cpu.get_cpu_capability()}) has no oneDNN bfloat16 LSTM kernels")
    results = {}
    for precision in ("fp32", "bf16"):
        cfg = LMConfig(**{**TINY.__dict__, "epochs": 2, "lr": 2e-2, "dropout": 0.0, "precision": precision})
        results[precision] = train_language_model(text_file, tmp_path / f"{precision}.lstmkit", cfg)
    fp32, bf16 = results["fp32"].history, results["bf16"].history
    assert abs(fp32[0].train_loss - bf16[0].train_loss) < 0.05 * fp32[0].train_loss
    assert bf16[1].val_loss < bf16[0].val_loss
    with pytest.raises(ConfigError, match="precision"):
        LMConfig(precision="fp16").resolved()


def test_untied_model_trains_saves_and_resumes(text_file, tmp_path):
    cfg = LMConfig(**{**TINY.__dict__, "tie_weights": False, "embedding_size": 32})  # larger than units: fine untied
    result = train_language_model(text_file, tmp_path / "u.lstmkit", cfg)
    model, vocab, _, _ = load_language_model(result.output)
    assert not model.tied and model.decoder.weight is not model.embedding.weight
    assert "decoder.weight" in model.tensors() and model.embed_scale == 1.0
    x = torch.tensor(vocab.encode(list("First Citizen")), dtype=torch.long).view(-1, 1)
    assert torch.equal(model(x)[0], load_language_model(result.output)[0](x)[0])
    assert result.history[-1].val_loss < math.log(result.vocab_size)
    # a resumed run may not change tying; a tied embedding larger than the units is refused up front
    same_size = LMConfig(**{**cfg.__dict__, "embedding_size": 24})
    train_language_model(text_file, tmp_path / "r.lstmkit", same_size, on_step=lambda s: s == 5)
    with pytest.raises(ConfigError, match="--tie/--no-tie was False"):
        train_language_model(text_file, tmp_path / "r.lstmkit", LMConfig(**{**same_size.__dict__, "tie_weights": True}),
                             resume=True)
    with pytest.raises(ConfigError, match="embedding_size <= units"):
        LMConfig(**{**TINY.__dict__, "embedding_size": 32}).resolved()
