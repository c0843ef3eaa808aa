"""Recipe probes for movie-review sentiment: a short torch loop over lstmkit.nn.LSTM, one flag per idea.

Not the benchmark (that is text_sentiment.py, through TextClassifier); this is how the ideas in
docs/text.md ("Run 4") were tried. Same split and vectorizer (20k words, last 400 tokens), Keras-style
initialisation, Adam, global gradient clipping 5, batch 32; each seed trains --epochs epochs and
reports the test accuracy of its best-validation epoch; the RESULT line gives the means over seeds::

    .venv/bin/python benchmarks/text_sentiment_probes.py --pool last|mean|max|meanmax [--edrop P] [--drop P]
        [--wd W] [--units N] [--crop [--stride S]] [--w2v [--freeze]] [--maxlen L] [--seeds 0 1 2] [--cv K]

--crop trains on a random --maxlen window of each whole review and predicts by averaging the windows
(stride --stride) that cover it; --w2v initialises the embedding with word2vec (gensim, skip-gram)
trained on the training reviews only (needs `pip install gensim`, which lstmkit does not install).
--cv K picks the epoch count by K-fold cross-validation over the 1800 training + validation reviews
(mean held-out accuracy per epoch), then trains on all 1800 for that many epochs and scores the test set.
"""
import argparse, json, time, sys
import numpy as np, torch, torch.nn as nn
from lstmkit.data.text import TextVectorizer
from lstmkit.tasks.text.sentiment import resolve_data_dir

ap = argparse.ArgumentParser()
ap.add_argument("--pool", default="last")
ap.add_argument("--units", type=int, default=64)
ap.add_argument("--emb", type=int, default=128)
ap.add_argument("--edrop", type=float, default=0.0)
ap.add_argument("--drop", type=float, default=0.0)
ap.add_argument("--wd", type=float, default=0.0)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--epochs", type=int, default=8)
ap.add_argument("--maxlen", type=int, default=400)
ap.add_argument("--maxtok", type=int, default=20000)
ap.add_argument("--bs", type=int, default=32)
ap.add_argument("--bidir", action="store_true")
ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
ap.add_argument("--crop", action="store_true", help="train on random maxlen windows; predict by averaging windows")
ap.add_argument("--stride", type=int, default=200)
ap.add_argument("--w2v", action="store_true")
ap.add_argument("--freeze", action="store_true")
ap.add_argument("--w2v-epochs", type=int, default=5)
ap.add_argument("--sel", default="valid", help="valid: best valid epoch; last: last epoch")
ap.add_argument("--cv", type=int, default=0, help="K > 1: pick the epoch count by K-fold cross-validation on train+valid, then train on all of it")
args = ap.parse_args()
torch.set_num_threads(1)
D = resolve_data_dir(None)
def rd(s):
    rows = [json.loads(l) for l in open(D / f"{s}.jsonl")]
    return [r["text"] for r in rows], [r["label"] for r in rows]
tr, va, te = rd("train"), rd("valid"), rd("test")
classes = sorted(set(tr[1]))
vec = TextVectorizer(max_tokens=args.maxtok, output_sequence_length=args.maxlen, padding="post", truncation="pre").fit(tr[0])
def enc(d):
    x = torch.as_tensor(np.asarray(vec(d[0])), dtype=torch.long)
    y = torch.as_tensor([classes.index(l) for l in d[1]])
    return x, y
Xtr, Ytr = enc(tr); Xva, Yva = enc(va); Xte, Yte = enc(te)
RAW = {k: [vec.encode(t) for t in d[0]] for k, d in (("tr", tr), ("va", va), ("te", te))}
def pad(seqs):
    out = torch.zeros(len(seqs), args.maxlen, dtype=torch.long)
    for i, s_ in enumerate(seqs):
        out[i, :len(s_)] = torch.as_tensor(s_[:args.maxlen])
    return out
def random_windows(idx, g):
    seqs = []
    for i in idx.tolist():
        s_ = RAW["tr"][i]
        start = int(torch.randint(0, max(1, len(s_) - args.maxlen + 1), (1,), generator=g))
        seqs.append(s_[start:start + args.maxlen])
    return pad(seqs)
def window_set(key):
    rows, owner = [], []
    for i, s_ in enumerate(RAW[key]):
        starts = list(range(0, max(1, len(s_) - args.maxlen + 1), args.stride))
        if len(s_) > args.maxlen and starts[-1] != len(s_) - args.maxlen:
            starts.append(len(s_) - args.maxlen)
        for st in starts:
            rows.append(s_[st:st + args.maxlen]); owner.append(i)
    return pad(rows), torch.as_tensor(owner)
if args.crop:
    WVA, OVA = window_set("va"); WTE, OTE = window_set("te")
V = vec.vocabulary_size()

W2V = None
if args.w2v:
    from gensim.models import Word2Vec
    t0 = time.time()
    sents = [vec.tokenize(t) for t in tr[0]]
    w2v = Word2Vec(sents, vector_size=args.emb, window=5, min_count=2, sg=1, workers=1, epochs=args.w2v_epochs, seed=1)
    vocab = vec.get_vocabulary()
    W2V = torch.empty(V, args.emb).uniform_(-0.05, 0.05)
    hit = 0
    for i, w in enumerate(vocab):
        if w in w2v.wv:
            W2V[i] = torch.as_tensor(w2v.wv[w]); hit += 1
    W2V[0] = 0
    W2V = W2V / W2V[2:].std() * 0.3
    print(f"w2v {time.time()-t0:.0f}s, {hit}/{V} words", flush=True)

class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(V, args.emb, padding_idx=0)
        from lstmkit.nn import LSTM
        nn.init.uniform_(s.emb.weight, -0.05, 0.05)
        if W2V is not None:
            with torch.no_grad(): s.emb.weight.copy_(W2V)
            s.emb.weight.requires_grad_(not args.freeze)
        s.lstm = LSTM(args.emb, args.units, batch_first=True, bidirectional=args.bidir, init="keras", recurrent_bias=False)
        f = args.units * (2 if args.bidir else 1) * (2 if args.pool == "meanmax" else 1)
        s.drop = nn.Dropout(args.drop)
        s.out = nn.Linear(f, len(classes))
    def forward(s, x):
        mask = x != 0
        L = mask.sum(1).clamp(min=1)
        e = s.emb(x)
        if args.edrop and s.training:  # spatial (whole-word-vector) dropout
            keep = (torch.rand(e.shape[0], e.shape[1], 1) > args.edrop).float() / (1 - args.edrop)
            e = e * keep
        o, _ = s.lstm(e)
        o = o * mask[:, :, None].float()
        h = o[torch.arange(len(x)), L - 1][None]
        m = mask[:, :, None].float()
        if args.pool == "last":
            assert not args.bidir
            z = h[-1]
        elif args.pool == "mean":
            z = (o * m).sum(1) / L[:, None]
        elif args.pool == "max":
            z = o.masked_fill(~mask[:, :, None], -1e9).max(1).values
        elif args.pool == "meanmax":
            z = torch.cat([(o * m).sum(1) / L[:, None], o.masked_fill(~mask[:, :, None], -1e9).max(1).values], 1)
        return s.out(s.drop(z))

def acc(model, X, Y, W=None):
    model.eval()
    with torch.no_grad():
        if W is not None:
            pw = torch.cat([model(W[0][i:i + 100]).softmax(-1) for i in range(0, len(W[0]), 100)])
            p = torch.zeros(len(Y), pw.shape[1]).index_add_(0, W[1], pw)
            p = p / p.sum(1, keepdim=True)
        else:
            p = torch.cat([model(X[i:i + 100]).softmax(-1) for i in range(0, len(X), 100)])
    model.train()
    return (p.argmax(1) == Y).float().mean().item(), p

def train(seed, X, Y, epochs, evals):
    """Train a fresh model on (X, Y); after each epoch, the accuracy on each (X, Y[, windows]) of evals."""
    torch.manual_seed(seed); np.random.seed(seed)
    model = M()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd) if args.wd else torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    gcrop = torch.Generator().manual_seed(seed)
    history = []
    for ep in range(epochs):
        perm = torch.randperm(len(X))
        tl = 0
        for i in range(0, len(X), args.bs):
            idx = perm[i:i + args.bs]
            xb = random_windows(idx, gcrop) if args.crop else X[idx]
            loss = nn.functional.cross_entropy(model(xb), Y[idx])
            opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step()
            tl += loss.item() * len(idx)
        history.append((tl / len(X), [acc(model, *e)[0] for e in evals]))
    return history

res = []
if args.cv > 1:
    assert not args.crop, "--cv works on the fixed last-maxlen-token inputs"
    Xall, Yall = torch.cat([Xtr, Xva]), torch.cat([Ytr, Yva])
    for seed in args.seeds:
        t0 = time.time()
        folds = torch.randperm(len(Xall), generator=torch.Generator().manual_seed(1000 + seed)).chunk(args.cv)
        curves = []
        for k, held in enumerate(folds):
            keep = torch.ones(len(Xall), dtype=torch.bool); keep[held] = False
            h = train(seed, Xall[keep], Yall[keep], args.epochs, [(Xall[held], Yall[held])])
            curves.append([a[0] for _, a in h])
        cv = np.array(curves).mean(0)
        best_ep = int(cv.argmax()) + 1
        h = train(seed, Xall, Yall, best_ep, [(Xte, Yte)])
        te_acc = h[-1][1][0]
        res.append((float(cv.max()), te_acc, best_ep))
        print(f"seed {seed}: cv curve " + " ".join(f"{e+1}:{a:.3f}" for e, a in enumerate(cv)) + f"  -> {best_ep} epochs on all 1800: test {te_acc:.3f}  ({time.time()-t0:.0f}s)", flush=True)
for seed in ([] if args.cv > 1 else args.seeds):
    t0 = time.time()
    evals = [(Xva, Yva, (WVA, OVA) if args.crop else None), (Xte, Yte, (WTE, OTE) if args.crop else None)]
    h = train(seed, Xtr, Ytr, args.epochs, evals)
    log = [f"{ep+1}:{tl:.3f}/{a[0]:.3f}/{a[1]:.3f}" for ep, (tl, a) in enumerate(h)]
    pick = len(h) - 1 if args.sel == "last" else max(range(len(h)), key=lambda e: (h[e][1][0], -e))
    best = (h[pick][1][0], h[pick][1][1], pick + 1)
    res.append(best)
    print(f"seed {seed}: best valid {best[0]:.3f} test {best[1]:.3f} epoch {best[2]}  ({time.time()-t0:.0f}s)  " + " ".join(log), flush=True)
r = np.array(res)
print(f"RESULT {' '.join(sys.argv[1:])}: valid {r[:,0].mean():.4f} test {r[:,1].mean():.4f} ± {r[:,1].std(ddof=1) if len(r)>1 else 0:.4f}", flush=True)
