"""Perplexity and KL divergence with llama-perplexity's method, so numbers compare with the
literature and with llama.cpp:

- the text is tokenized once (BOS per the vocabulary's add_bos_token), cut into
  len // n_ctx non-overlapping chunks of n_ctx tokens (the tail is dropped);
- each chunk runs from an empty cache, its first token replaced by BOS when the vocabulary adds
  one; only the second half is scored: the logits at positions n_ctx/2 .. n_ctx-2 predict
  tokens n_ctx/2+1 .. n_ctx-1 (n_ctx - 1 - n_ctx/2 scores per chunk, so every scored token has
  at least n_ctx/2 tokens of context);
- PPL = exp(mean NLL), +/- PPL * sqrt(var(NLL) / (count - 1)).

KL divergence: `--kl-divergence-base FILE` saves the model's log-probabilities (llama.cpp's file
format, see logprob_file.py); `--kl-divergence` with that file then scores another model on the
same tokens: KL(base || model) per position, the token-probability difference, same top-1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

from .logprob_file import LogProbReader, LogProbWriter, log_softmax_terms


class PerplexityError(ValueError):
    """The text, model or base file cannot be evaluated as asked (a one-line message)."""


def scored_positions(n_ctx: int) -> Tuple[int, int]:
    """(first, count): the logits rows of a chunk that are scored."""
    first = n_ctx // 2
    return first, n_ctx - 1 - first


def chunk_logits(model, tokens: np.ndarray, n_ctx: int, n_chunk: int,
                 bos_id: Optional[int]) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
    """For each chunk i: (i, scored logits (count, n_vocab) float32, their targets (count,))."""
    first, count = scored_positions(n_ctx)
    for i in range(n_chunk):
        chunk = np.array(tokens[i * n_ctx:(i + 1) * n_ctx], dtype=np.int32)
        if bos_id is not None:
            chunk[0] = bos_id
        model.reset()
        logits = model.eval(chunk, all_logits=True)
        targets = np.asarray(tokens[i * n_ctx + first + 1:(i + 1) * n_ctx], dtype=np.int64)
        yield i, logits[first:first + count], targets


def nll_of_targets(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log p(target) per row, float64, rounded as llama-perplexity does: (logit - max) in
    float, log(sum exp) in double."""
    mx, lse = log_softmax_terms(logits)
    picked = logits[np.arange(len(targets)), targets]
    return lse - (picked - mx).astype(np.float64)


def mean_and_uncertainty(s: float, s2: float, n: int) -> Tuple[float, float]:
    """Mean and its standard error from a sum and a sum of squares (llama.cpp's formula)."""
    if n < 1:
        return 0.0, 0.0
    f = s / n
    var = s2 / n - f * f
    return f, (math.sqrt(var / (n - 1)) if var > 0 and n > 10 else 0.0)


@dataclass
class PerplexityResult:
    n_ctx: int
    n_chunk: int
    count: int                       # scored tokens
    ppl: float
    ppl_err: float
    chunk_ppl: List[float] = field(default_factory=list)  # running estimate after each chunk

    def as_dict(self) -> dict:
        return {"n_ctx": self.n_ctx, "n_chunk": self.n_chunk, "n_scored": self.count,
                "ppl": self.ppl, "ppl_err": self.ppl_err, "chunk_ppl": self.chunk_ppl}


def plan_chunks(tokens: List[int], n_ctx: int, max_chunks: int) -> int:
    """How many chunks to run; an error when the text is too short (as llama-perplexity)."""
    if n_ctx < 4:
        raise PerplexityError(f"-c/--ctx-size must be at least 4, got {n_ctx}")
    if len(tokens) < 2 * n_ctx:
        raise PerplexityError(f"the text tokenizes to {len(tokens)} tokens; perplexity with a "
                              f"context of {n_ctx} needs at least {2 * n_ctx}")
    n = len(tokens) // n_ctx
    return n if max_chunks < 0 else min(n, max_chunks)


def perplexity(model, tokens: List[int], n_ctx: int = 512, max_chunks: int = -1,
               bos_id: Optional[int] = None, base_out: Optional[str] = None,
               on_chunk: Optional[Callable[[int, float], None]] = None) -> PerplexityResult:
    """llama-perplexity on a token list; base_out writes the log-probability file."""
    n_chunk = plan_chunks(tokens, n_ctx, max_chunks)
    writer = None
    if base_out is not None:
        writer = LogProbWriter(base_out, n_ctx, model.n_vocab,
                               np.asarray(tokens[:n_chunk * n_ctx], dtype=np.int32))
    nll = nll2 = 0.0
    count = 0
    res = PerplexityResult(n_ctx, n_chunk, 0, float("nan"), float("nan"))
    try:
        for i, logits, targets in chunk_logits(model, np.asarray(tokens), n_ctx, n_chunk, bos_id):
            v = nll_of_targets(logits, targets)
            nll += float(v.sum())
            nll2 += float((v * v).sum())
            count += len(v)
            if writer is not None:
                writer.write_chunk(logits)
            res.chunk_ppl.append(math.exp(nll / count))
            if on_chunk is not None:
                on_chunk(i, res.chunk_ppl[-1])
    finally:
        if writer is not None:
            writer.close()
    mean, var = nll / count, nll2 / count - (nll / count) ** 2
    res.count = count
    res.ppl = math.exp(mean)
    res.ppl_err = res.ppl * math.sqrt(var / (count - 1)) if var > 0 and count > 1 else 0.0
    return res
