"""lstmkit.tasks.text.language_model: TBPTT training, checkpoints, resume, evaluation, generation."""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import pytest
import torch

from lstmkit.errors import ConfigError, DataError, ModelFileError
from lstmkit.tasks.text.language_model import (
    LanguageModelGenerator, LMConfig, checkpoint_path, evaluate_file, load_language_model, read_checkpoint,
    train_language_model,
)
from lstmkit.tasks.text.lm_network import LanguageModel
from lstmkit.train import read_info
from lstmkit.train.precision import bf16_available
from lstmkit.util.container import load_tensors, save_tensors

warnings.filterwarnings("ignore", message="LSTM with projections")

TINY = LMConfig(level="char", layers=2, units=24, bptt=12, batch_size=6, epochs=2, dropout=0.1, learning_rate=5e-3,
               threads=1)
#: the LMConfig fields' names before issue 15, as files written then hold them
OLD_KEYS = {"learning_rate": "lr", "clip_norm": "clip"}


@pytest.fixture
def text_file(tmp_path, shared_data):
    path = tmp_path / "tiny.txt"
    path.write_text((shared_data / "tinyshakespeare" / "input.txt").read_text()[:6000])
    return path


def _weights(path):
    return load_language_model(path)[0].state_dict()


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_model_ties_weights_and_projects():
    m = LanguageModel(30, embedding_size=8, hidden_size=16, num_layers=2)
    assert m.decoder.weight is m.embedding.weight and m.lstm.proj_size == 8
    assert "decoder.weight" not in m.tensors()
    untied = LanguageModel(30, 8, 16, tie_weights=False)
    assert untied.decoder.weight is not untied.embedding.weight
    with pytest.raises(ConfigError, match="tie_weights"):
        LanguageModel(30, embedding_size=32, hidden_size=16)


def test_tiny_model_learns(text_file, tmp_path):
    cfg = LMConfig(**{**TINY.__dict__, "epochs": 5, "learning_rate": 2e-2, "dropout": 0.0})
    result = train_language_model(text_file, tmp_path / "m.lstmkit", cfg)
    h = result.history
    assert len(h) == 5 and h[-1].train_loss < h[0].train_loss - 0.5 and h[-1].val_loss < h[0].val_loss - 0.5
    assert h[-1].val_loss < math.log(result.vocab_size)  # better than uniform
    assert result.output.is_file() and checkpoint_path(result.output).is_file()
    # held-out 10%: 5400 + 600 characters
    assert (result.train_tokens, result.valid_tokens) == (5400, 600)
    assert evaluate_file(result.output, text_file, bptt=12) > 0


@pytest.mark.parametrize("stop_at", [30, 75, 100])  # mid-epoch 1, its last step, mid-epoch 2 (75 steps an epoch)
def test_resume_equals_uninterrupted(text_file, tmp_path, stop_at):
    # dropout on, plateau schedule, the carried state: all of it restored bit for bit (one thread throughout)
    full = train_language_model(text_file, tmp_path / "full.lstmkit", TINY)
    part = train_language_model(text_file, tmp_path / "part.lstmkit", TINY, on_step=lambda s: s == stop_at)
    assert part.interrupted and part.output is None and part.steps == stop_at
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG state of the caller
    resumed = train_language_model(text_file, tmp_path / "part.lstmkit", TINY, resume=True)
    assert resumed.steps == full.steps and resumed.val_loss == full.val_loss
    a, b = _weights(full.output), _weights(resumed.output)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda h: [(r.epoch, r.train_loss, r.val_loss, r.lr) for r in h]  # noqa: E731 (all but the seconds)
    assert strip(resumed.history) == strip(full.history)
    # the checkpoints of both runs hold the same final training state too
    x, y = read_info(full.checkpoint), read_info(resumed.checkpoint)
    assert x.position["step"] == y.position["step"] and all(torch.equal(x.tensors[k], y.tensors[k])
                                                            for k in x.tensors if k.startswith(("model.", "optim.")))


def test_resume_with_step_schedule_sgd_and_word_level_is_exact(tmp_path):
    lines = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 30
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    cfg = LMConfig(level="word", layers=1, units=12, bptt=6, batch_size=4, epochs=3, dropout=0.2, learning_rate=0.5,
                   optimizer="sgd", schedule="step", decay_start=1, lr_decay=0.5, clip_norm=0.5, threads=1)
    full = train_language_model(path, tmp_path / "full.lstmkit", cfg)
    assert [round(h.lr, 6) for h in full.history] == [0.5, 0.25, 0.125]  # x0.5 after every epoch from the first
    steps = full.steps // 3
    train_language_model(path, tmp_path / "p.lstmkit", cfg, on_step=lambda s: s == steps + 2)  # early in epoch 2
    resumed = train_language_model(path, tmp_path / "p.lstmkit", cfg, resume=True)
    a, b = _weights(full.output), _weights(resumed.output)
    assert all(torch.equal(a[k], b[k]) for k in a) and resumed.val_loss == full.val_loss


def test_resume_at_epoch_boundary_and_train_longer(text_file, tmp_path):
    one = LMConfig(**{**TINY.__dict__, "epochs": 1})
    full = train_language_model(text_file, tmp_path / "full.lstmkit", TINY)
    first = train_language_model(text_file, tmp_path / "b.lstmkit", one)
    assert first.epochs_completed == 1 and not first.interrupted
    resumed = train_language_model(text_file, tmp_path / "b.lstmkit", TINY, resume=True)  # epochs 1 -> 2
    assert resumed.val_loss == full.val_loss
    a, b = _weights(full.output), _weights(resumed.output)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_is_the_engines_and_holds_full_training_state(text_file, tmp_path):
    train_language_model(text_file, tmp_path / "m.lstmkit", TINY, on_step=lambda s: s == 10)
    ckpt = checkpoint_path(tmp_path / "m.lstmkit")
    tensors, meta = load_tensors(ckpt)
    assert meta["kind"] == "train_checkpoint"
    info = read_info(ckpt)
    assert info.position["step"] == 10 and info.position["batch"] == 10 and info.position["epoch"] == 0
    h, c = info.group("carry.0")["0"], info.group("carry.0")["1"]  # the carried (h, c) of the 6 streams
    assert h.shape == c.shape == (TINY.layers, TINY.batch_size, TINY.units) and h.abs().sum() > 0
    assert {"rng.0.torch", "rng.0.numpy"} <= set(tensors) and any(k.startswith("optim.") for k in tensors)
    lm = info.extra["language_model"]
    assert lm["config"]["units"] == TINY.units and lm["vocabulary"]["level"] == "char" and len(lm["train_sha256"]) == 64
    assert info.training["schedule"] == {"scale": 1.0, "wait": 0, "best": None}  # plateau, before any evaluation


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
    cfg = LMConfig(level="word", layers=1, units=16, bptt=8, batch_size=4, epochs=3, dropout=0.0, learning_rate=1e-2)
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


def test_bf16_refused_with_one_line_where_the_cpu_lacks_it(text_file, tmp_path):
    if bf16_available("cpu"):
        pytest.skip("this CPU has bfloat16 units: bf16 is not refused here")
    cfg = LMConfig(**{**TINY.__dict__, "precision": "bf16"})
    with pytest.raises(ConfigError, match=r"precision 'bf16': this CPU has no bfloat16 matrix units.*use 'fp32' or 'auto'") as e:
        train_language_model(text_file, tmp_path / "b.lstmkit", cfg)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "b.lstmkit").exists() and not checkpoint_path(tmp_path / "b.lstmkit").exists()
    # resuming in bf16 refuses the same way and leaves the checkpoint as it was
    train_language_model(text_file, tmp_path / "r.lstmkit", TINY, on_step=lambda s: s == 3)
    before = _digest(checkpoint_path(tmp_path / "r.lstmkit"))
    with pytest.raises(ConfigError, match="precision 'bf16'"):
        train_language_model(text_file, tmp_path / "r.lstmkit", cfg, resume=True)
    assert _digest(checkpoint_path(tmp_path / "r.lstmkit")) == before
    assert train_language_model(text_file, tmp_path / "a.lstmkit", LMConfig(**{**TINY.__dict__, "epochs": 1,
                                                                               "precision": "auto"})).output.is_file()


def test_bf16_precision_trains_close_to_fp32(text_file, tmp_path):
    # bf16 autocasts the step only: the same seed gives nearly the same first-epoch loss, and it learns.
    if not bf16_available("cpu"):
        pytest.skip(f"this CPU ({torch.backends.cpu.get_cpu_capability()}) has no bfloat16 matrix units")
    results = {}
    for precision in ("fp32", "bf16"):
        cfg = LMConfig(**{**TINY.__dict__, "epochs": 2, "learning_rate": 2e-2, "dropout": 0.0, "precision": precision})
        results[precision] = train_language_model(text_file, tmp_path / f"{precision}.lstmkit", cfg)
    fp32, bf16 = results["fp32"].history, results["bf16"].history
    assert abs(fp32[0].train_loss - bf16[0].train_loss) < 0.05 * fp32[0].train_loss
    assert bf16[1].val_loss < bf16[0].val_loss


def test_precision_values():
    assert LMConfig(precision="bfloat16").resolved().precision == "bf16"
    assert LMConfig(precision="auto").resolved().precision == "auto"
    with pytest.raises(ConfigError, match="precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"):
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


# ------------------------------------------------------------------------------ checkpoints of the previous format
def write_previous_format_checkpoint(model_path, ckpt, cfg):
    """A checkpoint laid out as lstmkit wrote them before training moved to lstmkit.train: kind
    ``language_model_checkpoint``, the model's ``config``/``vocabulary`` fields and a ``training`` JSON field
    (config, position, schedule, optimizer groups, RNG, history, data hash); tensors ``model.*``, ``optim.*``,
    ``rng.torch``, ``rng.numpy_keys``, ``hidden.h``, ``hidden.c``."""
    from dataclasses import asdict

    import numpy as np

    model, _, meta, _ = load_language_model(model_path)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    model(torch.zeros(3, 2, dtype=torch.long))[0].sum().backward()
    opt.step()
    tensors = {f"model.{k}": v for k, v in model.tensors().items()}
    sd = opt.state_dict()
    scalars = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    np_state = np.random.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.numpy_keys"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    tensors["hidden.h"], tensors["hidden.c"] = model.init_hidden(cfg.batch_size)
    training = {
        "config": {OLD_KEYS.get(k, k): v for k, v in asdict(cfg).items()},  # the names it had then: lr, clip
        "position": {"epoch": 1, "window": 0, "global_step": 75, "elapsed": 3.5, "loss_sum": 1000.0, "loss_count": 400},
        "schedule": {"lr": cfg.learning_rate, "best": 3.1}, "optimizer": {"param_groups": groups, "scalars": scalars},
        "rng": {"numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])], "python": [3, [0], None]},
        "history": [{"epoch": 1, "train_loss": 3.3, "val_loss": 3.1, "lr": cfg.learning_rate, "seconds": 2.0}],
        "train_sha256": "0" * 64,
    }
    save_tensors(ckpt, tensors, {"config": meta["config"], "vocabulary": meta["vocabulary"],
                                 "training": json.dumps(training)}, kind="language_model_checkpoint", what="checkpoint")


@pytest.mark.parametrize("format_v1", [False, True])  # as the previous version wrote it / before metadata checksums
def test_previous_format_checkpoint_still_generates_and_resume_says_so(text_file, tmp_path, format_v1):
    import lstmkit
    from old_format import old_format

    cfg = LMConfig(**{**TINY.__dict__, "epochs": 1})
    out = tmp_path / "m.lstmkit"
    train_language_model(text_file, out, cfg)
    ckpt = checkpoint_path(out)
    write_previous_format_checkpoint(out, ckpt, cfg)
    if format_v1:
        old_format(ckpt)
    model, vocab, meta, _ = load_language_model(ckpt)
    assert meta["kind"] == "language_model_checkpoint" and vocab.level == "char"
    gen = LanguageModelGenerator.load(ckpt)
    assert len("".join(gen.generate("ROMEO:", 30, seed=2))) == 30
    assert isinstance(lstmkit.load(ckpt), LanguageModelGenerator)
    assert math.isfinite(evaluate_file(ckpt, text_file, bptt=12))
    before = _digest(ckpt)
    with pytest.raises(ModelFileError, match=r"written by an older lstmkit \(kind 'language_model_checkpoint'\), which "
                                             r"this version cannot resume; .*generate.* still reads it") as e:
        train_language_model(text_file, out, cfg, resume=True)
    assert "\n" not in str(e.value) and _digest(ckpt) == before


# ------------------------------------------------------------------------------ bad checkpoints: one line, untouched
@pytest.fixture
def interrupted(text_file, tmp_path):
    out = tmp_path / "run.lstmkit"
    train_language_model(text_file, out, TINY, on_step=lambda s: s == 4)
    return out


def _resume_refused(text_file, out, exc, match, cfg=TINY):
    ckpt = checkpoint_path(out)
    before = _digest(ckpt)
    with pytest.raises(exc, match=match) as e:
        train_language_model(text_file, out, cfg, resume=True)
    assert "\n" not in str(e.value)
    assert _digest(ckpt) == before and not out.exists()  # nothing written, nothing trained
    return str(e.value)


def test_truncated_and_corrupted_checkpoints(text_file, interrupted):
    ckpt = checkpoint_path(interrupted)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    _resume_refused(text_file, interrupted, ModelFileError, r"checkpoint .*run.lstmkit.ckpt.*: truncated")
    ckpt.write_bytes(data[:5])
    _resume_refused(text_file, interrupted, ModelFileError, r"checkpoint .*: not an lstmkit .*truncated")
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF
    ckpt.write_bytes(bytes(flipped))
    _resume_refused(text_file, interrupted, ModelFileError, r"corrupted \(the weights do not match their checksum\)")


def test_checkpoints_of_other_models(text_file, tmp_path, interrupted):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential
    from lstmkit.train import Trainer, TensorBatches

    ckpt = checkpoint_path(interrupted)
    Sequential([Dense(2, input_shape=(3,))]).save(ckpt)  # a model file of another kind
    _resume_refused(text_file, interrupted, ModelFileError, "is a Keras-style model, not a training checkpoint")
    linear = torch.nn.Linear(3, 1)  # the engine's checkpoint of another model
    Trainer(linear, torch.optim.SGD(linear.parameters(), lr=0.1), lambda m, b, c: m(b[0]).pow(2).mean(),
            TensorBatches(torch.randn(8, 3), torch.randn(8, 1), batch_size=4), epochs=1, checkpoint=ckpt).fit()
    msg = _resume_refused(text_file, interrupted, ModelFileError, "training checkpoint of another model")
    assert "(Linear)" in msg and "not a language model's" in msg
    with pytest.raises(ModelFileError, match="another model"):
        LanguageModelGenerator.load(ckpt)


def test_checkpoint_schema_is_checked_behind_a_valid_checksum(text_file, interrupted):
    ckpt = checkpoint_path(interrupted)
    tensors, meta = load_tensors(ckpt)
    extra = json.loads(meta["extra"])
    extra["language_model"]["config"]["units"] = -3
    fields = {k: v for k, v in meta.items() if k not in ("format", "format_version", "lstmkit_version", "kind",
                                                         "weights_sha256", "sha256")}
    save_tensors(ckpt, tensors, {**fields, "extra": json.dumps(extra)}, kind="train_checkpoint")
    _resume_refused(text_file, interrupted, ModelFileError, r"'extra.language_model.config' is invalid \(units")


# ------------------------------------------------------------------------------ old names (issue 15): lr, clip
def test_learning_rate_and_clip_norm_are_canonical_and_lr_clip_still_work():
    canonical = LMConfig(learning_rate=0.01, clip_norm=2.0)
    old = LMConfig(lr=0.01, clip=2.0)
    assert old == canonical and set(canonical.__dict__) >= {"learning_rate", "clip_norm"}
    assert not {"lr", "clip"} & set(canonical.__dict__)
    assert (old.learning_rate, old.clip_norm, old.lr, old.clip) == (0.01, 2.0, 0.01, 2.0)
    old.lr, old.clip = 0.02, 3.0  # the old names read and set the fields
    assert (old.learning_rate, old.clip_norm) == (0.02, 3.0)
    assert LMConfig().resolved().learning_rate == 2e-3 and LMConfig(optimizer="sgd").resolved().lr == 1.0
    for kwargs, name, old_name in [({"lr": 0.01, "learning_rate": 0.02}, "learning_rate", "lr"),
                                   ({"clip": 1.0, "clip_norm": 1.0}, "clip_norm", "clip")]:
        twice = rf"^LMConfig: {name} given twice \(as {name}= and as its old name {old_name}=\); give {name}= only$"
        with pytest.raises(ConfigError, match=twice) as e:
            LMConfig(**kwargs)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="learning_rate: expected a positive number, found -1"):
        LMConfig(lr=-1).resolved()
    with pytest.raises(ConfigError, match="clip_norm: expected a positive number, found 0"):
        LMConfig(clip=0).resolved()


def _rewrite_saved_config(ckpt, edit):
    """Re-save a checkpoint with its saved LMConfig dict replaced by ``edit(config)``, checksums valid."""
    tensors, meta = load_tensors(ckpt)
    extra = json.loads(meta["extra"])
    extra["language_model"]["config"] = edit(extra["language_model"]["config"])
    fields = {k: v for k, v in meta.items() if k not in ("format", "format_version", "lstmkit_version", "kind",
                                                         "weights_sha256", "sha256")}
    save_tensors(ckpt, tensors, {**fields, "extra": json.dumps(extra)}, kind="train_checkpoint")


def test_checkpoint_saved_with_lr_and_clip_resumes_exactly_and_checks_them(text_file, tmp_path, interrupted):
    ckpt = checkpoint_path(interrupted)
    _rewrite_saved_config(ckpt, lambda config: {OLD_KEYS.get(k, k): v for k, v in config.items()})  # as before issue 15
    assert {"lr", "clip"} <= set(read_info(ckpt).extra["language_model"]["config"])
    saved = read_checkpoint(ckpt)[1]  # under the current names
    assert (saved["learning_rate"], saved["clip_norm"]) == (5e-3, 5.0) and not {"lr", "clip"} & set(saved)
    # a saved lr is the learning_rate a resumed run is checked against; the message names the option
    msg = _resume_refused(text_file, interrupted, ConfigError, r"^resume: --lr was 0\.005 in .*, found 0\.01 ",
                          cfg=LMConfig(**{**TINY.__dict__, "learning_rate": 0.01}))
    assert "leave --lr out" in msg
    _resume_refused(text_file, interrupted, ConfigError, r"^resume: --clip was 5\.0 in .*, found 1\.0 .*leave --clip out",
                    cfg=LMConfig(**{**TINY.__dict__, "clip_norm": 1.0}))
    # the same settings resume, to the weights of the uninterrupted run
    full = train_language_model(text_file, tmp_path / "full.lstmkit", TINY)
    resumed = train_language_model(text_file, interrupted, TINY, resume=True)
    a, b = _weights(full.output), _weights(resumed.output)
    assert resumed.val_loss == full.val_loss and all(torch.equal(a[k], b[k]) for k in a)
    config = read_info(ckpt).extra["language_model"]["config"]
    assert config["learning_rate"] == 5e-3 and "lr" not in config  # the new checkpoint says learning_rate


def test_checkpoint_saying_lr_and_learning_rate_is_refused_in_one_line(text_file, interrupted):
    _rewrite_saved_config(checkpoint_path(interrupted), lambda config: {**config, "lr": 0.5})
    _resume_refused(text_file, interrupted, ModelFileError,
                    r"'extra.language_model.config' is invalid \(LMConfig: learning_rate given twice")


def test_resume_refuses_another_training_file(text_file, tmp_path, interrupted):
    other = tmp_path / "other.txt"
    other.write_text(text_file.read_text()[::-1])
    before = _digest(checkpoint_path(interrupted))
    with pytest.raises(DataError, match="differs from the one"):
        train_language_model(other, interrupted, TINY, resume=True)
    assert _digest(checkpoint_path(interrupted)) == before
