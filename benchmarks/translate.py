"""Machine translation on the shared English-Spanish pairs (issue 20): LSTM with attention against its peers.

Trains, one after another, on the same hash split of ``../shared/data/anki_spa_eng/spa.tsv`` (5% test, by
the English sentence) and the same subword vocabularies:

* ``lstm+attention``: :class:`lstmkit.nn.Seq2SeqLSTM`, bidirectional encoder, Bahdanau attention, input feeding;
* ``lstm (no attention)``: the same network without attention;
* ``transformer``: :class:`lstmkit.nn.TransformerSeq2Seq` sized to the same parameter count, same time budget;
* ``copy source``: the translation is the source sentence.

Each trained model gets the same wall-clock budget (``--minutes``, default 12) on one thread. The script
prints, per model: test BLEU and chrF (sacrebleu, single reference, with signatures; plus BLEU against
all references of each distinct English sentence), decoding speed (sentences/s, greedy and beam 5),
parameters and training time, and the curve of validation BLEU (greedy, 500 sentences) against
training time from the engine's evaluations. Every figure is printed with ``lscpu``'s model name.

Run:  .venv/bin/python benchmarks/translate.py                  (about 4 x minutes + decoding; run it alone)
      .venv/bin/python benchmarks/translate.py --minutes 60     (the issue's budget per model)
      .venv/bin/python benchmarks/translate.py --quick          (a smoke run, about a minute)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "anki_spa_eng" / "spa.tsv"


def cpu_model_name() -> str:
    """``lscpu``'s "Model name" (from /proc/cpuinfo or lscpu, as lstmkit's precision rule reads it)."""
    from lstmkit.train import cpu_info

    return cpu_info().name or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--minutes", type=float, default=12.0, help="training budget per model (wall clock)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--direction", default="en-es", choices=["en-es", "es-en"])
    ap.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test pairs only")
    ap.add_argument("--models", default="lstm+attention,lstm (no attention),transformer,copy source")
    ap.add_argument("--out", default=None, help="write the results as JSON here (and model files beside it)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run: 3,000 training pairs, 0.3 minutes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from lstmkit.data import read_parallel_tsv
    from lstmkit.tasks.translate import Translator

    cpu = cpu_model_name()
    corpus = read_parallel_tsv(args.data)
    src, tgt = args.direction.split("-")
    if args.direction == "es-en":
        corpus = corpus.reversed()
    common = dict(src=src, tgt=tgt, split_key="en", vocab_size=8000, eval_every=400, eval_sentences=500, seed=0)
    minutes = 0.3 if args.quick else args.minutes
    limit_pairs = 3000 if args.quick else None
    test_limit = 200 if args.quick else args.test_limit
    if args.quick:
        common.update(vocab_size=1000, eval_every=20, eval_sentences=50)
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    specs = {
        "lstm+attention": dict(model="lstm", attention="bahdanau"),
        "lstm (no attention)": dict(model="lstm", attention="none"),
        "transformer": dict(model="transformer"),
        "copy source": dict(model="copy"),
    }
    print(f"lstmkit translation benchmark, {args.direction}, {len(corpus)} pairs, {minutes} min per model, "
          f"{args.threads} thread(s), torch {torch.__version__}, CPU: {cpu}", flush=True)
    results = {}
    lstm_params = None
    for name in wanted:
        options = {**common, **specs[name]}
        if name == "transformer" and lstm_params:
            options["match_parameters"] = lstm_params
        t0 = time.perf_counter()
        tr = Translator(**options).fit(corpus, minutes=None if name == "copy source" else minutes,
                                       epochs=None if name != "copy source" else 1, max_train_pairs=limit_pairs)
        fit_s = time.perf_counter() - t0
        if name == "lstm+attention":
            lstm_params = tr.count_params()
        greedy = tr.evaluate(corpus, split="test", beam=1, limit=test_limit)
        beam = tr.evaluate(corpus, split="test", beam=5, limit=test_limit) if name != "copy source" else greedy
        results[name] = {
            "params": tr.count_params(), "train_s": tr.train_seconds_, "fit_s": fit_s,
            "bleu": beam["bleu"], "chrf": beam["chrf"], "bleu_multi_reference": beam["bleu_multi_reference"],
            "bleu_greedy": greedy["bleu"], "greedy_sent_per_s": greedy["sentences_per_s"],
            "beam5_sent_per_s": beam["sentences_per_s"], "test_sentences": beam["sentences"],
            "bleu_signature": beam["bleu_signature"], "chrf_signature": beam["chrf_signature"],
            "curve": [(round(e.get("train_seconds", 0.0), 1), round(e.get("val_bleu", float("nan")), 2),
                       round(e.get("val_loss", float("nan")), 3)) for e in tr.history_],
            "examples": list(zip(beam["sources"][:8], beam["hypotheses"][:8], beam["references"][:8])),
        }
        r = results[name]
        print(f"  {name:20s} BLEU {r['bleu']:6.2f} (greedy {r['bleu_greedy']:5.2f}, all refs "
              f"{r['bleu_multi_reference']:5.2f})  chrF {r['chrf']:6.2f}  greedy {r['greedy_sent_per_s']:7.1f} sent/s  "
              f"beam5 {r['beam5_sent_per_s']:7.1f} sent/s  params {r['params']:,}  train {r['train_s']:.0f} s",
              flush=True)
        if args.out and name != "copy source":
            tr.save(Path(args.out).with_name(Path(args.out).stem + "_" + name.split()[0].replace("+", "_") + ".lstmkit"))

    print(f"\n== test split of {Path(args.data).name}, {args.direction}; beam 5, GNMT alpha 0.6; CPU: {cpu} ==")
    print(f"  {'model':20s} {'BLEU':>6s} {'chrF':>6s} {'BLEU all refs':>13s} {'greedy s/s':>10s} {'beam5 s/s':>10s} "
          f"{'params':>11s} {'train s':>8s}")
    for name, r in results.items():
        speeds = ("-", "-") if name == "copy source" else (f"{r['greedy_sent_per_s']:.1f}", f"{r['beam5_sent_per_s']:.1f}")
        print(f"  {name:20s} {r['bleu']:6.2f} {r['chrf']:6.2f} {r['bleu_multi_reference']:13.2f} "
              f"{speeds[0]:>10s} {speeds[1]:>10s} {r['params']:11,d} {r['train_s']:8.0f}")
    sig = next(iter(results.values()))
    print(f"  signatures: BLEU {sig['bleu_signature']}; chrF {sig['chrf_signature']}")
    if "lstm+attention" in results:
        a = results["lstm+attention"]["bleu"]
        checks = [("LSTM with attention >= 35 BLEU", a >= 35, f"{a:.2f}")]
        if "lstm (no attention)" in results:
            d = a - results["lstm (no attention)"]["bleu"]
            checks.append(("attention >= 5 BLEU above no attention", d >= 5, f"{d:+.2f}"))
        if "transformer" in results:
            t = results["transformer"]["bleu"]
            checks.append(("LSTM with attention >= equal-budget Transformer", a >= t, f"{a:.2f} vs {t:.2f}"))
        for what, ok, value in checks:
            print(f"  target: {what}: {value} -> {'met' if ok else 'not met'} (budget {minutes} min per model)")
    print("\n  validation BLEU (greedy, 500 sentences) against training seconds:")
    for name, r in results.items():
        if r["curve"]:
            print(f"  {name:20s} " + "  ".join(f"{s:.0f}s:{b:.1f}" for s, b, _ in r["curve"]))
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": cpu, "minutes": minutes, "direction": args.direction,
                                              "results": results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
