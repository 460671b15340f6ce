#!/usr/bin/env python3
"""Trains the emotion head of issue 12 on frozen MiniLM sentence vectors.

Why: the product classifies a message into Ekman's 6 emotions + neutral
(multi-label, a score each) from the vector search already computes, so the
only thing to learn is a small head. This script trains two candidates on
GoEmotions `train`, tunes them and one threshold per label on `dev`, and
reports `dev` and `test` once, with a fixed seed, numpy only:

  (a) logistic: one-vs-rest logistic regression (the 7 sigmoids share
      nothing), class-weighted, L2, full-batch Adam, early stopping on dev;
  (b) mlp: 384 -> H ReLU -> dropout -> 7 sigmoids, class-weighted binary
      cross-entropy, mini-batch Adam, early stopping on dev macro-F1.

Inputs: --data holds {train,dev,test}.tsv (text<TAB>label ids "0,4"<TAB>id)
and labels.txt; --vectors holds {split}.f32, little-endian f32 rows of 384,
one per TSV line, in order (crates/ml/examples/embed_corpus.rs writes them).
Run through scripts/train-emotions/run, which makes both. The defaults are
the settings chosen on dev (--dev-only runs); docs/notes/emotion-head.md has
the sweep and the numbers.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

DIM = 384
SPLITS = ("train", "dev", "test")
THRESHOLDS = np.round(np.arange(0.02, 0.99, 0.01), 2)


def parse_args():
    """Command line: where the data are, the seed, the heads to train."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="directory of the TSV splits and labels.txt")
    p.add_argument("--vectors", required=True, help="directory of {split}.f32")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--heads", default="logistic,mlp", help="comma-separated: logistic, mlp")
    p.add_argument("--hidden", type=int, default=256, help="MLP hidden units")
    p.add_argument("--dropout", type=float, default=0.3, help="MLP dropout on the hidden layer")
    p.add_argument("--mlp-lr", type=float, default=1e-3)
    p.add_argument("--mlp-decay", type=float, default=1e-3, help="MLP L2 on the weights")
    p.add_argument("--mlp-epochs", type=int, default=80)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--patience", type=int, default=8, help="epochs without a better dev macro-F1")
    p.add_argument("--logistic-lr", type=float, default=0.005)
    p.add_argument("--logistic-decay", type=float, default=1e-4, help="logistic L2 on the weights")
    p.add_argument("--logistic-steps", type=int, default=1500)
    p.add_argument(
        "--pos-weight",
        choices=("balanced", "sqrt", "none"),
        default="sqrt",
        help="weight of a positive example per label: negatives/positives, its square root, or 1",
    )
    p.add_argument(
        "--dev-only",
        action="store_true",
        help="report dev only: for choosing settings, so that test is looked at once, at the end",
    )
    p.add_argument("--save", help="directory to write each head's weights and thresholds (.npz)")
    p.add_argument("--json", help="file to write all the numbers to")
    return p.parse_args()


def load(data, vectors, labels):
    """Each split as (X float32 [n, 384], Y float32 [n, labels])."""
    out = {}
    for split in SPLITS:
        ys = []
        with open(os.path.join(data, f"{split}.tsv"), encoding="utf-8") as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                y = np.zeros(len(labels), dtype=np.float32)
                for i in cols[1].split(","):
                    y[int(i)] = 1.0
                ys.append(y)
        x = np.fromfile(os.path.join(vectors, f"{split}.f32"), dtype="<f4")
        if x.size != len(ys) * DIM:
            sys.exit(f"{split}: {x.size / DIM:.1f} vectors for {len(ys)} lines: embed again")
        out[split] = (x.reshape(len(ys), DIM), np.stack(ys))
    return out


def sigmoid(z):
    """The logistic function, without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def pos_weights(y, mode):
    """Per label, how much a positive example counts against a negative."""
    pos = y.sum(0)
    ratio = (len(y) - pos) / np.maximum(pos, 1.0)
    if mode == "balanced":
        return ratio.astype(np.float32)
    if mode == "sqrt":
        return np.sqrt(ratio).astype(np.float32)
    return np.ones_like(ratio, dtype=np.float32)


def bce_grad(p, y, w):
    """d(weighted BCE)/d(logit), mean over examples: w*y*(p-1) + (1-y)*p."""
    return (w * y * (p - 1.0) + (1.0 - y) * p) / len(y)


class Adam:
    """Adam over a list of arrays, updated in place."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(q) for q in params]
        self.v = [np.zeros_like(q) for q in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for q, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            q -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def f1_parts(pred, y):
    """Per label precision, recall, F1 and support of boolean predictions."""
    tp = (pred & (y > 0)).sum(0).astype(np.float64)
    fp = (pred & (y == 0)).sum(0).astype(np.float64)
    fn = (~pred & (y > 0)).sum(0).astype(np.float64)
    p = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    r = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=(p + r) > 0)
    return p, r, f, y.sum(0)


def tune_thresholds(scores, y):
    """Per label, the threshold of the grid with the best F1 on (scores, y)."""
    best = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        fs = [f1_parts((scores[:, j : j + 1] >= t), y[:, j : j + 1])[2][0] for t in THRESHOLDS]
        best[j] = THRESHOLDS[int(np.argmax(fs))]
    return best


def predict(scores, thresholds, at_least_one=False):
    """Labels over their threshold; optionally the top label when none is."""
    pred = scores >= thresholds
    if at_least_one:
        none = ~pred.any(1)
        pred[none, np.argmax(scores[none] - thresholds, 1)] = True
    return pred


def report(scores, y, thresholds, at_least_one=False):
    """Macro-F1, weighted-F1, micro-F1 and per-label numbers of one split."""
    pred = predict(scores, thresholds, at_least_one)
    p, r, f, n = f1_parts(pred, y)
    tp, pp, ap = (pred & (y > 0)).sum(), pred.sum(), (y > 0).sum()
    micro = 2 * tp / max(pp + ap, 1)
    return {
        "macro_f1": float(f.mean()),
        "weighted_f1": float((f * n).sum() / n.sum()),
        "micro_f1": float(micro),
        "per_label": {"p": p.tolist(), "r": r.tolist(), "f1": f.tolist(), "n": n.astype(int).tolist()},
    }


def dev_score(scores, y):
    """What early stopping watches: dev macro-F1 at thresholds tuned on dev."""
    return report(scores, y, tune_thresholds(scores, y))["macro_f1"]


def train_logistic(args, rng, data, mu, sd):
    """One-vs-rest logistic regression, full batch; the best dev step kept."""
    x, y = (data["train"][0] - mu) / sd, data["train"][1]
    xd, yd = (data["dev"][0] - mu) / sd, data["dev"][1]
    w = (rng.standard_normal((DIM, y.shape[1])) * 0.01).astype(np.float32)
    b = np.zeros(y.shape[1], dtype=np.float32)
    pw = pos_weights(y, args.pos_weight)
    opt = Adam([w, b], args.logistic_lr)
    best, best_step, kept = -1.0, 0, (w.copy(), b.copy())
    for step in range(1, args.logistic_steps + 1):
        g = bce_grad(sigmoid(x @ w + b), y, pw)
        opt.step([x.T @ g + args.logistic_decay * w, g.sum(0)])
        if step % 25 == 0:
            score = dev_score(sigmoid(xd @ w + b), yd)
            if score > best:
                best, best_step, kept = score, step, (w.copy(), b.copy())
            elif step - best_step >= 25 * args.patience:
                break
    w, b = kept
    print(f"logistic: best dev macro-F1 {best:.4f} at step {best_step}", file=sys.stderr)
    return {"w": w, "b": b}, lambda z: sigmoid(((z - mu) / sd) @ w + b)


def train_mlp(args, rng, data, mu, sd):
    """384 -> hidden ReLU -> dropout -> sigmoids; the best dev epoch kept."""
    x, y = (data["train"][0] - mu) / sd, data["train"][1]
    xd, yd = (data["dev"][0] - mu) / sd, data["dev"][1]
    h, k = args.hidden, y.shape[1]
    w1 = (rng.standard_normal((DIM, h)) * np.sqrt(2.0 / DIM)).astype(np.float32)
    b1 = np.zeros(h, dtype=np.float32)
    w2 = (rng.standard_normal((h, k)) * np.sqrt(1.0 / h)).astype(np.float32)
    b2 = np.zeros(k, dtype=np.float32)
    params = [w1, b1, w2, b2]
    pw = pos_weights(y, args.pos_weight)
    opt = Adam(params, args.mlp_lr)
    keep = 1.0 - args.dropout

    def forward(z):
        return sigmoid(np.maximum(z @ w1 + b1, 0.0) @ w2 + b2)

    best, best_epoch, kept = -1.0, 0, [q.copy() for q in params]
    for epoch in range(1, args.mlp_epochs + 1):
        order = rng.permutation(len(x))
        for at in range(0, len(x), args.batch):
            idx = order[at : at + args.batch]
            xb, yb = x[idx], y[idx]
            a = np.maximum(xb @ w1 + b1, 0.0)
            mask = (rng.random(a.shape) < keep).astype(np.float32) / keep
            ad = a * mask
            g2 = bce_grad(sigmoid(ad @ w2 + b2), yb, pw).astype(np.float32)
            ga = (g2 @ w2.T) * mask * (a > 0)
            opt.step(
                [
                    xb.T @ ga + args.mlp_decay * w1,
                    ga.sum(0),
                    ad.T @ g2 + args.mlp_decay * w2,
                    g2.sum(0),
                ]
            )
        score = dev_score(forward(xd), yd)
        if score > best:
            best, best_epoch, kept = score, epoch, [q.copy() for q in params]
        elif epoch - best_epoch >= args.patience:
            break
    for q, saved in zip(params, kept):
        q[...] = saved
    print(f"mlp: best dev macro-F1 {best:.4f} at epoch {best_epoch}", file=sys.stderr)
    return {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, lambda z: forward((z - mu) / sd)


def print_table(name, labels, results):
    """One head's numbers: summary lines, then per label P/R/F1 on dev and test."""
    print(f"\n== {name} (thresholds tuned on dev: {results['thresholds']})")
    for variant in ("plain", "at_least_one"):
        d, t = results[variant]["dev"], results[variant].get("test")
        if t is None:
            print(f"  {variant:13s} dev  macro-F1 {d['macro_f1']:.4f}  weighted-F1 {d['weighted_f1']:.4f}")
            continue
        print(
            f"  {variant:13s} dev  macro-F1 {d['macro_f1']:.4f}  weighted-F1 {d['weighted_f1']:.4f}"
            f"  micro-F1 {d['micro_f1']:.4f}\n"
            f"  {'':13s} test macro-F1 {t['macro_f1']:.4f}  weighted-F1 {t['weighted_f1']:.4f}"
            f"  micro-F1 {t['micro_f1']:.4f}"
        )
    if "test" not in results["plain"]:
        return
    print(f"  {'label':9s} {'thr':>5s} | {'dev P':>6s} {'R':>6s} {'F1':>6s} | {'test P':>6s} {'R':>6s} {'F1':>6s} {'n':>5s}")
    d, t = results["plain"]["dev"]["per_label"], results["plain"]["test"]["per_label"]
    for j, label in enumerate(labels):
        print(
            f"  {label:9s} {results['thresholds'][j]:5.2f} | {d['p'][j]:6.3f} {d['r'][j]:6.3f} {d['f1'][j]:6.3f}"
            f" | {t['p'][j]:6.3f} {t['r'][j]:6.3f} {t['f1'][j]:6.3f} {t['n'][j]:5d}"
        )


def main():
    args = parse_args()
    with open(os.path.join(args.data, "labels.txt"), encoding="utf-8") as f:
        labels = [line.strip() for line in f if line.strip()]
    data = load(args.data, args.vectors, labels)
    for split in SPLITS:
        print(f"{split}: {len(data[split][1])} texts, positives per label {data[split][1].sum(0).astype(int).tolist()}", file=sys.stderr)
    mu = data["train"][0].mean(0)
    sd = data["train"][0].std(0) + 1e-6
    trainers = {"logistic": train_logistic, "mlp": train_mlp}
    everything = {"seed": args.seed, "args": vars(args), "labels": labels, "heads": {}}
    for name in args.heads.split(","):
        rng = np.random.default_rng(args.seed)
        started = time.monotonic()
        weights, score = trainers[name](args, rng, data, mu, sd)
        seconds = time.monotonic() - started
        thresholds = tune_thresholds(score(data["dev"][0]), data["dev"][1])
        results = {"thresholds": thresholds.tolist(), "train_seconds": round(seconds, 1)}
        for variant, at_least_one in (("plain", False), ("at_least_one", True)):
            results[variant] = {
                split: report(score(data[split][0]), data[split][1], thresholds, at_least_one) for split in (("dev",) if args.dev_only else ("dev", "test"))
            }
        print_table(f"{name} ({seconds:.0f} s)", labels, results)
        everything["heads"][name] = results
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            np.savez(os.path.join(args.save, f"head-{name}.npz"), mu=mu, sd=sd, thresholds=thresholds, **weights)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
