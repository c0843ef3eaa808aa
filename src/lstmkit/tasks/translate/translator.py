"""``Translator``: machine translation with an attentional LSTM encoder-decoder (or a baseline).

>>> from lstmkit.tasks.translate import Translator                       # doctest: +SKIP
>>> tr = Translator(src="en", tgt="es").fit("spa.tsv", minutes=30)       # doctest: +SKIP
>>> tr.translate("How are you?")                                          # doctest: +SKIP
'¿Cómo estás?'
>>> tr.evaluate("spa.tsv", split="test")["bleu"]                          # doctest: +SKIP

What it does, in order:

1. **Data.** A tab-separated file (columns 1 and 2 unless told otherwise; a third column is kept as
   attribution) or a :class:`~lstmkit.data.parallel.ParallelCorpus`. The pairs are split by a hash
   of the English sentence (:func:`~lstmkit.data.parallel.split_by_source_hash`, 5% validation,
   5% test), so duplicate English sentences never straddle train and test, and En->Es and Es->En
   share their test sentences. Training uses the train part only; the split is stored in the model
   file, and ``evaluate(..., split="test")`` takes the same test part again.
2. **Subwords.** Two sentencepiece unigram vocabularies (``vocab_size`` each, one shared with
   ``tie_embeddings``), trained on the training split and saved *inside* the model file; decoding
   gives back casing, punctuation and spacing exactly (:mod:`lstmkit.data.subword`).
3. **Model** (``model=``):

   * ``"lstm"``: :class:`lstmkit.nn.Seq2SeqLSTM`, a bidirectional LSTM encoder and an LSTM decoder
     with ``attention="bahdanau"`` (additive), ``"dot"`` or ``"general"`` (Luong), or ``"none"`` (the
     no-attention baseline); input feeding; tied embeddings as an option.
   * ``"transformer"``: :class:`lstmkit.nn.TransformerSeq2Seq`, the baseline, sized by ``d_model``
     or to ``match_parameters`` (the LSTM's count).
   * ``"copy"``: the copy-source baseline (the translation is the source sentence).

4. **Training** on the one engine (:class:`lstmkit.train.Trainer`): teacher forcing, label-smoothed
   cross-entropy over the real target tokens, Adam with gradient clipping, batches of similar
   lengths (``batch_tokens`` target tokens at most), an ``epochs`` and/or ``minutes`` budget. Every
   ``eval_every`` steps it logs the validation loss and greedy BLEU on ``eval_sentences`` validation
   pairs (the curve of BLEU against training time), and keeps the best weights by validation loss.
5. **Decoding**: batched greedy or beam search with GNMT length normalisation
   (:mod:`lstmkit.tasks.translate.decode`); ``evaluate`` reports sacrebleu's BLEU and chrF with
   their signatures.

Limits: a sentence to translate must be non-empty and at most ``max_source_tokens`` subword tokens
(default 200); either is one clear line.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lstmkit.data.parallel import ParallelCorpus, attribution_note, read_parallel_tsv, split_by_source_hash
from lstmkit.errors import ConfigError, InputValueError, ModelFileError
from lstmkit.tasks.translate.decode import beam_search, greedy_decode

KIND = "translator"
MODELS = ("lstm", "transformer", "copy")
ATTENTIONS = ("bahdanau", "dot", "general", "none")


@dataclass
class TranslatorConfig:
    """Every choice a :class:`Translator` makes (saved in the model file)."""

    src: str = "en"
    tgt: str = "es"
    model: str = "lstm"
    attention: str = "bahdanau"
    input_feeding: bool = True
    emb: int = 256
    hidden: int = 256
    enc_layers: int = 1
    dec_layers: int = 1
    dropout: float = 0.2
    tie_embeddings: bool = False
    label_smoothing: float = 0.1
    vocab_size: int = 8000
    d_model: int = 256
    heads: int = 4
    transformer_layers: int = 3
    match_parameters: int | None = None
    batch_tokens: int = 2048
    learning_rate: float = 1e-3
    clip_norm: float = 1.0
    max_train_tokens: int = 64
    max_source_tokens: int = 200
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    split_key: str = "en"
    eval_every: int = 500
    eval_sentences: int = 500
    seed: int = 0


def _check_text_list(texts: Any, what: str) -> tuple[list[str], bool]:
    single = isinstance(texts, str)
    items = [texts] if single else texts
    if not isinstance(items, (list, tuple)):
        raise InputValueError(f"{what}: expected a sentence or a list of sentences, found {type(texts).__name__}")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InputValueError(f"{what}[{i}]: expected a string, found {type(t).__name__}")
        if not t.strip():
            raise InputValueError(f"{what}[{i}]: the sentence is empty; give text to translate")
    return list(items), single


class Translator:
    """Train, run, evaluate, save and load a translation model (see the module docstring).

    Args: the fields of :class:`TranslatorConfig` as keywords, e.g. ``Translator(src="en", tgt="es",
    attention="general", vocab_size=8000)``.
    """

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(TranslatorConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Translator: unknown option {unknown[0]!r}; options: "
                              f"{', '.join(TranslatorConfig.__dataclass_fields__)}")
        self.config = TranslatorConfig(**options)
        c = self.config
        if c.model not in MODELS:
            raise ConfigError(f"model: expected one of {', '.join(MODELS)}, found {c.model!r}")
        if c.attention not in ATTENTIONS:
            raise ConfigError(f"attention: expected one of {', '.join(ATTENTIONS)}, found {c.attention!r}")
        for name in ("src", "tgt"):
            value = getattr(c, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name}: expected a language code such as 'en', found {value!r}")
        self.network_: torch.nn.Module | None = None
        self.src_tok_: Any = None
        self.tgt_tok_: Any = None
        self.attribution_: str = ""
        self.history_: list[dict[str, Any]] = []
        self.train_seconds_: float = 0.0

    # ------------------------------------------------------------------ data
    def _read(self, data: Any, columns: tuple[int, int] | None = None) -> ParallelCorpus:
        if isinstance(data, ParallelCorpus):
            return data
        if isinstance(data, (str, PathLike)):
            src_col, tgt_col = columns or (1, 2)
            return read_parallel_tsv(data, src_col=src_col, tgt_col=tgt_col)
        raise InputValueError(f"data: expected a path to a tab-separated file or a ParallelCorpus, found "
                              f"{type(data).__name__}")

    def split(self, corpus: ParallelCorpus) -> tuple[ParallelCorpus, ParallelCorpus, ParallelCorpus]:
        """``(train, valid, test)`` by the stored hash split (the English side is hashed, in either direction)."""
        c = self.config
        key = "src" if c.split_key == c.src else "tgt" if c.split_key == c.tgt else "src"
        return split_by_source_hash(corpus, valid=c.valid_fraction, test=c.test_fraction, key=key)

    # ------------------------------------------------------------------ building
    def _build(self) -> torch.nn.Module:
        from lstmkit.nn import Seq2SeqLSTM, TransformerSeq2Seq

        c = self.config
        sv, tv = self.src_tok_.vocab_size, self.tgt_tok_.vocab_size
        ids = dict(pad_id=self.tgt_tok_.pad_id, bos_id=self.tgt_tok_.bos_id, eos_id=self.tgt_tok_.eos_id)
        if c.model == "lstm":
            return Seq2SeqLSTM(sv, tv, emb=c.emb, hidden=c.hidden, enc_layers=c.enc_layers, dec_layers=c.dec_layers,
                               attention=c.attention, input_feeding=c.input_feeding, dropout=c.dropout,
                               tie_embeddings=c.tie_embeddings, **ids)
        if c.match_parameters:
            return TransformerSeq2Seq.with_parameter_count(
                c.match_parameters, src_vocab=sv, tgt_vocab=tv, heads=c.heads, enc_layers=c.transformer_layers,
                dec_layers=c.transformer_layers, dropout=c.dropout, **ids)
        return TransformerSeq2Seq(sv, tv, d_model=c.d_model, heads=c.heads, enc_layers=c.transformer_layers,
                                  dec_layers=c.transformer_layers, dropout=c.dropout, **ids)

    def _encode_pairs(self, corpus: ParallelCorpus, limit: int | None) -> list[tuple[list[int], list[int]]]:
        src = self.src_tok_.encode(corpus.src)
        tgt = self.tgt_tok_.encode(corpus.tgt)
        pairs = [(s, t) for s, t in zip(src, tgt) if s and t]
        if limit is not None:
            pairs = [(s, t) for s, t in pairs if len(s) <= limit and len(t) + 1 <= limit]
        return pairs

    def _batches(self, pairs: list[tuple[list[int], list[int]]], seed: int, epoch: int) -> list[list[int]]:
        """Index lists of similar-length pairs, at most ``batch_tokens`` padded target tokens each, shuffled."""
        g = np.random.default_rng([seed, epoch])
        lengths = np.array([len(t) + 1 for _, t in pairs]) + g.random(len(pairs))  # random tie-breaks
        order = np.argsort(lengths, kind="stable")
        batches, current, longest = [], [], 0
        for i in order:
            n = len(pairs[i][1]) + 1
            if current and max(longest, n) * (len(current) + 1) > self.config.batch_tokens:
                batches.append(current)
                current, longest = [], 0
            current.append(int(i))
            longest = max(longest, n)
        if current:
            batches.append(current)
        g.shuffle(batches)
        return batches

    def _collate(self, pairs: list[tuple[list[int], list[int]]], idx: list[int]) -> tuple[torch.Tensor, ...]:
        pad, bos, eos = self.tgt_tok_.pad_id, self.tgt_tok_.bos_id, self.tgt_tok_.eos_id
        srcs = [pairs[i][0] for i in idx]
        tgts = [pairs[i][1] for i in idx]
        S = max(len(s) for s in srcs)
        T = max(len(t) for t in tgts) + 1
        src = torch.full((len(idx), S), pad, dtype=torch.long)
        tin = torch.full((len(idx), T), pad, dtype=torch.long)
        tout = torch.full((len(idx), T), pad, dtype=torch.long)
        for r, (s, t) in enumerate(zip(srcs, tgts)):
            src[r, :len(s)] = torch.tensor(s)
            tin[r, :len(t) + 1] = torch.tensor([bos, *t])
            tout[r, :len(t) + 1] = torch.tensor([*t, eos])
        return src, torch.tensor([len(s) for s in srcs]), tin, tout

    # ------------------------------------------------------------------ training
    def fit(self, data: Any, *, epochs: int | None = None, minutes: float | None = None, valid: Any = None,
            columns: tuple[int, int] | None = None, verbose: int = 0, log_path: Any = None,
            max_train_pairs: int | None = None) -> "Translator":
        """Train on ``data`` (a TSV path or a ParallelCorpus). Without ``valid`` the hash split's validation
        part is used; the test part is never seen. ``epochs`` and/or ``minutes`` bound the run (default
        10 epochs). ``log_path``: a JSONL log of every step and evaluation (the BLEU curve)."""
        from lstmkit.data.subword import train_pair
        from lstmkit.nn import label_smoothed_nll
        from lstmkit.train import FunctionBatches, StepOutput, Trainer

        c = self.config
        corpus = self._read(data, columns)
        self.attribution_ = attribution_note(corpus)
        if valid is None:
            train, valid_c, _ = self.split(corpus)
        else:
            train, valid_c = corpus, self._read(valid, columns)
        if max_train_pairs is not None:
            train = train.subset(list(range(min(max_train_pairs, len(train)))))
        if len(train) == 0:
            raise InputValueError(f"data: no training pairs left after the split of {len(corpus)} pairs")
        torch.manual_seed(c.seed)
        self.src_tok_, self.tgt_tok_ = train_pair(train.src, train.tgt, c.vocab_size,
                                                  shared=c.tie_embeddings, seed=c.seed)
        if c.model == "copy":
            self.network_ = None
            return self
        self.network_ = self._build()
        pairs = self._encode_pairs(train, c.max_train_tokens)
        if not pairs:
            raise InputValueError(f"data: every training pair is longer than max_train_tokens={c.max_train_tokens}")
        n_eval = min(c.eval_sentences, len(valid_c))
        eval_corpus = valid_c.subset(list(range(n_eval))) if n_eval else None
        valid_pairs = self._encode_pairs(valid_c, c.max_source_tokens) if len(valid_c) else []
        plan: dict[int, list[list[int]]] = {}

        def batch(epoch: int, index: int, rank: int, world: int):
            if epoch not in plan:
                plan.clear()
                plan[epoch] = self._batches(pairs, c.seed, epoch)
            return self._collate(pairs, plan[epoch][index])

        n_batches = len(self._batches(pairs, c.seed, 0))
        network = self.network_
        pad = self.tgt_tok_.pad_id

        def step(model: torch.nn.Module, b: tuple, carry: Any) -> StepOutput:
            src, lengths, tin, tout = b
            logits = model(src, lengths, tin)
            loss, n_tokens = label_smoothed_nll(logits, tout, pad, c.label_smoothing)
            return StepOutput(loss, weight=n_tokens)

        started = time.perf_counter()
        eval_seconds = [0.0]  # time spent evaluating, left out of the curve's training seconds

        def evaluate(model: torch.nn.Module) -> dict[str, float]:
            out: dict[str, float] = {}
            t_eval = time.perf_counter()
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    total, tokens = 0.0, 0
                    for idx in self._batches(valid_pairs, 0, 0)[:50]:
                        src, lengths, tin, tout = self._collate(valid_pairs, idx)
                        loss, n = label_smoothed_nll(model(src, lengths, tin), tout, pad, 0.0)
                        total += float(loss) * int(n)
                        tokens += int(n)
                    if tokens:
                        out["val_loss"] = total / tokens
                if eval_corpus is not None:
                    hyps = self.translate(eval_corpus.src, beam=1, batch_size=128)
                    out["val_bleu"] = _bleu(hyps, eval_corpus.tgt).score
            finally:
                model.train(was)
            out["train_seconds"] = t_eval - started - eval_seconds[0]
            eval_seconds[0] += time.perf_counter() - t_eval
            return out

        from lstmkit.train import EarlyStopping

        optimizer = torch.optim.Adam(network.parameters(), lr=c.learning_rate)
        budget = {"epochs": epochs if epochs is not None else (None if minutes is not None else 10)}
        trainer = Trainer(
            network, optimizer, step, FunctionBatches(batch, n_batches), evaluate=evaluate if valid_pairs else None,
            minutes=minutes, clip_norm=c.clip_norm, eval_every=c.eval_every, verbose=verbose, log_path=log_path,
            early_stopping=EarlyStopping(monitor="val_loss", patience=10 ** 6, restore_best=True)
            if valid_pairs else None, handle_sigint=False, **budget)
        result = trainer.fit()
        self.train_seconds_ = result.elapsed
        self.history_ = [{k: v for k, v in e.items() if isinstance(v, (int, float, str))} for e in result.evals]
        network.eval()
        return self

    # ------------------------------------------------------------------ translating
    def _require(self) -> None:
        if self.src_tok_ is None:
            raise ConfigError("Translator: not trained yet; call fit() or Translator.load()")

    def _encode_sources(self, texts: list[str]) -> list[list[int]]:
        ids = self.src_tok_.encode(texts)
        limit = self.config.max_source_tokens
        for i, s in enumerate(ids):
            if len(s) > limit:
                raise InputValueError(f"sentence {i}: {len(s)} subword tokens; the limit is {limit} "
                                      f"(max_source_tokens): split the text into sentences")
        return ids

    def translate(self, texts: Any, *, beam: int = 5, max_len: int | None = None, batch_size: int = 64,
                  length_penalty: float = 0.6) -> Any:
        """The translation of a sentence (a string) or of a list of sentences (a list). ``beam=1`` is greedy."""
        items, single = _check_text_list(texts, "texts")
        self._require()
        if self.config.model == "copy":
            return items[0] if single else list(items)
        out = [h for h, _ in self._decode(items, beam, max_len, batch_size, length_penalty, False)]
        return out[0] if single else out

    def _decode(self, items: list[str], beam: int, max_len: int | None, batch_size: int, alpha: float,
                attention: bool) -> list[tuple[str, Any]]:
        ids = self._encode_sources(items)
        net = self.network_
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        results: list[Any] = [None] * len(ids)
        pad = self.src_tok_.pad_id
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            S = max(len(ids[i]) for i in chunk)
            src = torch.full((len(chunk), S), pad, dtype=torch.long)
            for r, i in enumerate(chunk):
                src[r, :len(ids[i])] = torch.tensor(ids[i])
            lengths = torch.tensor([len(ids[i]) for i in chunk])
            limit = max_len or int(S * 1.5 + 10)
            if beam == 1:
                dec = greedy_decode(net, src, lengths, limit, return_attention=attention)
            else:
                dec = beam_search(net, src, lengths, beam, limit, alpha, return_attention=attention)
            texts = self.tgt_tok_.decode(dec.tokens)
            for r, i in enumerate(chunk):
                results[i] = (texts[r], (dec.tokens[r], dec.attention[r]) if attention else None)
        return results

    def alignment(self, text: str, *, beam: int = 5) -> tuple[list[str], list[str], np.ndarray]:
        """``(source pieces, target pieces, weights (target steps, source pieces))`` for one sentence:
        the attention of the best hypothesis (an LSTM with attention only)."""
        items, _ = _check_text_list(text, "text")
        self._require()
        if self.config.model != "lstm" or self.config.attention == "none":
            raise ConfigError(f"alignment: needs an LSTM with attention; this model is {self.config.model!r}"
                              f" with attention {self.config.attention!r}")
        [(_, (tokens, weights))] = self._decode(items[:1], beam, None, 1, 0.6, True)
        src_pieces = self.src_tok_.pieces(items[0])
        tgt_pieces = [self.tgt_tok_.id_to_piece(t) for t in tokens] + ["</s>"]
        w = weights.detach().cpu().numpy()
        return src_pieces, tgt_pieces[: w.shape[0]], w

    def plot_alignment(self, text: str, path: Any, *, beam: int = 5) -> Path:
        """Write the attention heatmap of ``text``'s translation as a PNG (matplotlib)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        src, tgt, w = self.alignment(text, beam=beam)
        fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(src) + 2), max(3, 0.4 * len(tgt) + 2)))
        ax.imshow(w, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), [p.replace("\u2581", " ").strip() or "\u2581" for p in src], rotation=60,
                      ha="right")
        ax.set_yticks(range(len(tgt)), [p.replace("\u2581", " ").strip() or "\u2581" for p in tgt])
        ax.set_xlabel(f"source ({self.config.src})")
        ax.set_ylabel(f"translation ({self.config.tgt})")
        ax.set_title(f"{self.config.attention} attention")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out

    # ------------------------------------------------------------------ evaluating
    def evaluate(self, data: Any, *, split: str = "all", beam: int = 5, columns: tuple[int, int] | None = None,
                 limit: int | None = None, batch_size: int = 64) -> dict[str, Any]:
        """BLEU and chrF (sacrebleu, with their signatures) on ``data``; ``split="test"`` takes the stored hash
        split's test part of it (``"valid"``, ``"train"``, ``"all"``). Also decoding speed (sentences/s)."""
        self._require()
        corpus = self._read(data, columns)
        if split != "all":
            parts = dict(zip(("train", "valid", "test"), self.split(corpus)))
            if split not in parts:
                raise ConfigError(f"split: expected all, train, valid or test, found {split!r}")
            corpus = parts[split]
        if limit is not None:
            corpus = corpus.subset(list(range(min(limit, len(corpus)))))
        if len(corpus) == 0:
            raise InputValueError("data: no pairs to evaluate")
        t = time.perf_counter()
        hyps = self.translate(corpus.src, beam=beam, batch_size=batch_size)
        seconds = time.perf_counter() - t
        from sacrebleu.metrics import BLEU, CHRF

        bleu_m, chrf_m = BLEU(), CHRF()
        bleu = bleu_m.corpus_score(list(hyps), [list(corpus.tgt)])
        chrf = chrf_m.corpus_score(list(hyps), [list(corpus.tgt)])
        # Tatoeba gives many English sentences several translations: score each distinct source once
        # against all of its references too (sacrebleu's variable number of references).
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(corpus.src):
            groups.setdefault(s, []).append(i)
        firsts = [idx[0] for idx in groups.values()]
        width = max(len(idx) for idx in groups.values())
        streams = [[corpus.tgt[idx[k]] if k < len(idx) else None for idx in groups.values()] for k in range(width)]
        multi_m = BLEU()
        multi = multi_m.corpus_score([hyps[i] for i in firsts], streams)
        return {"bleu": bleu.score, "chrf": chrf.score, "bleu_signature": str(bleu_m.get_signature()),
                "chrf_signature": str(chrf_m.get_signature()), "bleu_multi_reference": multi.score,
                "bleu_multi_reference_signature": str(multi_m.get_signature()), "distinct_sources": len(groups),
                "sentences": len(corpus), "sentences_per_s": len(corpus) / max(seconds, 1e-9), "beam": beam,
                "hypotheses": hyps, "references": list(corpus.tgt), "sources": list(corpus.src)}

    # ------------------------------------------------------------------ files
    def count_params(self) -> int:
        return 0 if self.network_ is None else sum(p.numel() for p in self.network_.parameters())

    def save(self, path: Any) -> None:
        """One safetensors file: the weights, both tokenizers (as bytes) and the config, attribution and
        training history as JSON; written atomically."""
        from lstmkit.util.container import save_tensors

        self._require()
        tensors = {} if self.network_ is None else {f"network.{k}": v.detach().cpu().contiguous()
                                                    for k, v in self.network_.state_dict().items()}
        tensors["tokenizer.src"] = torch.frombuffer(bytearray(self.src_tok_.to_bytes()), dtype=torch.uint8).clone()
        tensors["tokenizer.tgt"] = torch.frombuffer(bytearray(self.tgt_tok_.to_bytes()), dtype=torch.uint8).clone()
        meta = {"config": json.dumps(asdict(self.config)), "attribution": self.attribution_,
                "history": json.dumps(self.history_), "train_seconds": repr(self.train_seconds_)}
        save_tensors(path, tensors, meta, kind=KIND)

    @classmethod
    def load(cls, path: Any) -> "Translator":
        """Load a file written by :meth:`save`; another kind of lstmkit file is one line saying what it holds."""
        from lstmkit.data.subword import SubwordTokenizer
        from lstmkit.util.container import file_kind, load_tensors, read_raw_metadata

        meta = read_raw_metadata(path)
        kind = file_kind(meta)
        if kind != KIND:
            from lstmkit.util.registry import describe

            raise ModelFileError(f"model file {str(path)!r} holds {describe(kind)}, not a translator; train one "
                                 "with lstmkit translate train")
        tensors, meta = load_tensors(path)
        try:
            config = json.loads(meta["config"])
            obj = cls(**config)
            obj.src_tok_ = SubwordTokenizer.from_bytes(tensors.pop("tokenizer.src").numpy().tobytes())
            obj.tgt_tok_ = SubwordTokenizer.from_bytes(tensors.pop("tokenizer.tgt").numpy().tobytes())
            obj.attribution_ = meta.get("attribution", "")
            obj.history_ = json.loads(meta.get("history", "[]"))
            obj.train_seconds_ = float(meta.get("train_seconds", "0"))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"model file {str(path)!r}: invalid translator metadata ({type(exc).__name__}: "
                                 f"{exc})"[:300]) from None
        if obj.config.model != "copy":
            net = obj._build()
            state = {k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")}
            missing = sorted(set(net.state_dict()) - set(state))
            if missing:
                raise ModelFileError(f"model file {str(path)!r}: weights do not match the config (missing {missing[:3]})")
            net.load_state_dict(state)
            net.eval()
            obj.network_ = net
        return obj


def _bleu(hyps: Sequence[str], refs: Sequence[str]) -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU().corpus_score(list(hyps), [list(refs)])


__all__ = ["Translator", "TranslatorConfig", "KIND"]
