"""Token sampling with llama.cpp's parameter names, defaults and default chain order.

    penalties -> top_k -> top_p -> min_p -> temperature -> dist

Each step narrows a candidate set held as two parallel arrays, `ids` (int64) and `logits`
(float32/64), so after top_k (O(n_vocab), see _top_k_unsorted) the rest works on at most k
entries. No step sorts the whole vocabulary (a 128k argsort costs more than a small model's
forward pass): top_p without top_k sorts only as large a top set as it needs.
top_k, top_p and min_p all see the *untempered* distribution (temperature comes last, as in
llama.cpp). temp <= 0 means greedy: argmax of the penalized logits.

Differences from llama.cpp: the random stream is numpy's PCG64 (np.random.Generator) rather than
mt19937, so a seed is reproducible within edgeq, not across runtimes.
"""
from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

import numpy as np

Candidates = Tuple[np.ndarray, np.ndarray]  # (ids (m,), logits (m,)); sorted descending if noted


@dataclass
class SamplingParams:
    temp: float = 0.8
    top_k: int = 40                  # <= 0: off
    top_p: float = 0.95              # 1.0: off
    min_p: float = 0.05              # 0.0: off
    repeat_penalty: float = 1.0      # 1.0: off
    repeat_last_n: int = 64          # tokens of history penalized; 0: off, -1: context size
    frequency_penalty: float = 0.0   # 0.0: off
    presence_penalty: float = 0.0    # 0.0: off
    seed: int = -1                   # -1: random

    def validate(self) -> None:
        """Raise ValueError (one line, names the flag) for values llama.cpp would reject."""
        if not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"--top-p must be in [0, 1], got {self.top_p}")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"--min-p must be in [0, 1], got {self.min_p}")
        if self.repeat_penalty <= 0.0:
            raise ValueError(f"--repeat-penalty must be > 0, got {self.repeat_penalty}")
        if self.repeat_last_n < -1:
            raise ValueError(f"--repeat-last-n must be >= -1, got {self.repeat_last_n}")
        if self.seed < -1 or self.seed >= 2**64:
            raise ValueError(f"--seed must be -1 or in [0, 2^64), got {self.seed}")
        for name in ("temp", "top_p", "min_p", "repeat_penalty", "frequency_penalty",
                     "presence_penalty"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"--{name.replace('_', '-')} must be finite")

    @property
    def greedy(self) -> bool:
        return self.temp <= 0.0


# ---- steps of the chain (pure functions, each testable alone) -------------------------------

def apply_penalties(logits: np.ndarray, history: Iterable[int], repeat: float,
                    frequency: float = 0.0, presence: float = 0.0) -> np.ndarray:
    """Penalize tokens seen in `history` (llama.cpp's penalties sampler); returns a copy.

    For each distinct token t seen c times: logit /= repeat if logit > 0 else logit *= repeat,
    then logit -= c * frequency + presence.
    """
    if repeat == 1.0 and frequency == 0.0 and presence == 0.0:
        return logits.copy()
    hist = np.fromiter(history, dtype=np.int64)
    out = logits.astype(np.float32, copy=True)
    if hist.size == 0:
        return out
    hist = hist[(hist >= 0) & (hist < out.size)]
    toks, counts = np.unique(hist, return_counts=True)
    sel = out[toks]
    sel = np.where(sel <= 0.0, sel * repeat, sel / repeat)
    sel = sel - counts * frequency - presence
    out[toks] = sel
    return out


def top_k(logits: np.ndarray, k: int) -> Candidates:
    """The k largest logits, sorted descending (k <= 0 or k >= n: all of them, sorted)."""
    n = logits.shape[0]
    if 0 < k < n:
        ids = np.sort(_top_k_unsorted(logits, k))  # equal logits: lower id first, always
    else:
        ids = np.arange(n)
    order = np.argsort(-logits[ids], kind="stable")
    ids = ids[order]
    return ids, logits[ids]


def _top_k_unsorted(logits: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k largest logits, any order. O(n), several times faster than a full
    argpartition on a 128k vocabulary: the k-th largest value v of a strided subsample has
    at least k subsample entries >= v, so the full array has at least k entries >= v; the
    exact top k lies among them, and there are few of them."""
    n = logits.shape[0]
    stride = n // (8 * k)
    if stride >= 4:
        sub = logits[::stride]
        v = np.partition(sub, sub.size - k)[sub.size - k]
        cand = np.flatnonzero(logits >= v)
        if cand.size > k:
            cand = cand[np.argpartition(-logits[cand], k - 1)[:k]]
        return cand
    return np.argpartition(-logits, k - 1)[:k]


def softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def top_p(cand: Candidates, p: float, min_keep: int = 1) -> Candidates:
    """Smallest prefix (of candidates sorted descending) whose probability mass reaches p."""
    ids, logits = cand
    if p >= 1.0 or ids.size <= min_keep:
        return cand
    return _top_p_prefix(cand, p, min_keep, _exp_sum(logits, logits[0]))


def _exp_sum(logits: np.ndarray, mx: float) -> float:
    return float(np.exp(np.asarray(logits, dtype=np.float64) - mx).sum())


def _top_p_prefix(cand: Candidates, p: float, min_keep: int, total: float) -> Candidates:
    """top_p where `total` = sum(exp(l - max)) over the whole candidate set, of which `cand`
    is a sorted prefix holding mass >= p (or all of it)."""
    ids, logits = cand
    cum = np.cumsum(np.exp(np.asarray(logits, dtype=np.float64) - logits[0])) / total
    # first index i where cum[i] >= p; keep i+1 entries (at least min_keep)
    n_keep = int(np.searchsorted(cum, p, side="left")) + 1
    n_keep = min(max(n_keep, min_keep), ids.size)
    return ids[:n_keep], logits[:n_keep]


def top_p_all(logits: np.ndarray, p: float, min_keep: int = 1) -> Candidates:
    """top_p over a whole unsorted vocabulary without sorting all of it: take the top m
    (m = 256, 1024, ...) until they hold mass >= p; the answer is a prefix of them."""
    n = logits.shape[0]
    mx = float(logits.max())
    total = _exp_sum(logits, mx)
    m = 256
    while m < n:
        cand = top_k(logits, m)
        if _exp_sum(cand[1], mx) >= p * total and m > min_keep:
            return _top_p_prefix(cand, p, min_keep, total)
        m *= 4
    return top_p(top_k(logits, 0), p, min_keep)


def min_p(cand: Candidates, p: float, min_keep: int = 1) -> Candidates:
    """Keep candidates with probability >= p * (largest probability); order is kept.
    (min_keep > 1 needs sorted input.)"""
    ids, logits = cand
    if p <= 0.0 or ids.size <= min_keep:
        return cand
    threshold = logits.max() + np.log(p)  # prob_i >= p * prob_max <=> l_i >= l_max + log p
    keep = logits >= threshold
    if int(np.count_nonzero(keep)) < min_keep:
        return ids[:min_keep], logits[:min_keep]
    return ids[keep], logits[keep]


def sample_dist(cand: Candidates, temp: float, rng: np.random.Generator) -> int:
    """Draw one id from softmax(logits / temp)."""
    ids, logits = cand
    probs = softmax(np.asarray(logits, dtype=np.float64) / temp)
    cum = np.cumsum(probs)
    i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    return int(ids[min(i, ids.size - 1)])


# ---- the stateful sampler --------------------------------------------------------------------

class Sampler:
    """Applies the chain to one logits row per call; remembers recent tokens for penalties."""

    def __init__(self, params: SamplingParams, n_ctx: Optional[int] = None):
        params.validate()
        self.params = params
        self.seed = params.seed if params.seed >= 0 else secrets.randbits(32)
        self.rng = np.random.default_rng(self.seed)
        last_n = params.repeat_last_n
        if last_n < 0:
            last_n = n_ctx if n_ctx else 0
        self.history: deque = deque(maxlen=max(last_n, 0))

    def accept(self, token: int) -> None:
        """Record a token (prompt or generated) for the repetition penalties."""
        if self.history.maxlen:
            self.history.append(int(token))

    def reset(self) -> None:
        self.history.clear()

    def _penalized(self, logits: np.ndarray) -> np.ndarray:
        p = self.params
        return apply_penalties(logits, self.history, p.repeat_penalty,
                               p.frequency_penalty, p.presence_penalty)

    def sample(self, logits: np.ndarray) -> int:
        """logits: (n_vocab,) float -> a token id."""
        p = self.params
        x = self._penalized(np.asarray(logits).reshape(-1))
        if p.greedy:
            return int(np.argmax(x))
        if 0 < p.top_k < x.shape[0]:
            cand = top_p(top_k(x, p.top_k), p.top_p)
        elif p.top_p < 1.0:
            cand = top_p_all(x, p.top_p)
        else:
            cand = (np.arange(x.shape[0]), x)  # no step needs the order: skip the sort
        cand = min_p(cand, p.min_p)
        return sample_dist(cand, p.temp, self.rng)
