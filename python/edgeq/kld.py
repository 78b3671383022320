"""KL divergence of a model against a base model's saved log-probabilities (llama-perplexity
--kl-divergence): per scored position KL(base || model), Δp = p_model(token) - p_base(token),
and whether both put the same token on top. The statistics and their names follow
llama-perplexity's report so the numbers compare directly.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional

import numpy as np

from .logprob_file import LogProbReader, log_softmax_terms
from .perplexity import PerplexityError, chunk_logits, mean_and_uncertainty


@dataclass
class KLDStats:
    """Running sums over scored positions (llama.cpp's kl_divergence_result)."""
    sum_nll: float = 0.0
    sum_nll2: float = 0.0
    sum_nll_base: float = 0.0
    sum_nll_base2: float = 0.0
    sum_nll_nll_base: float = 0.0
    sum_kld: float = 0.0
    sum_kld2: float = 0.0
    sum_p_diff: float = 0.0
    sum_p_diff2: float = 0.0
    sum_p_diff4: float = 0.0
    n_same_top: int = 0
    count: int = 0
    kld_values: List[np.ndarray] = field(default_factory=list)
    p_diff_values: List[np.ndarray] = field(default_factory=list)

    def add(self, logits: np.ndarray, base_logp: np.ndarray, targets: np.ndarray) -> None:
        """One chunk: logits (n, V) float32 of the model, base_logp (n, V) the base's
        log-probabilities, targets (n,) the tokens that follow."""
        rows = np.arange(len(targets))
        mx, lse = log_softmax_terms(logits)
        top = mx + lse.astype(np.float32)                         # log of the normalizer
        nll = (top - logits[rows, targets]).astype(np.float64)    # float, as llama.cpp
        nll_base = (-base_logp[rows, targets]).astype(np.float64)
        # Only base probabilities above e^-16 contribute (as llama.cpp: the file's floor).
        live = base_logp > np.float32(-16)
        p_base = np.where(live, np.exp(np.where(live, base_logp, 0)), 0).astype(np.float64)
        logq = (logits - top[:, None]).astype(np.float64)
        kld = (p_base * (base_logp.astype(np.float64) - logq)).sum(axis=1)
        same = np.argmax(logits, axis=1) == np.argmax(base_logp, axis=1)
        p_diff = np.exp(-nll.astype(np.float32)) - np.exp(-nll_base.astype(np.float32))
        p_diff = p_diff.astype(np.float64)

        self.sum_nll += nll.sum()
        self.sum_nll2 += (nll * nll).sum()
        self.sum_nll_base += nll_base.sum()
        self.sum_nll_base2 += (nll_base * nll_base).sum()
        self.sum_nll_nll_base += (nll * nll_base).sum()
        self.sum_kld += kld.sum()
        self.sum_kld2 += (kld * kld).sum()
        self.sum_p_diff += p_diff.sum()
        self.sum_p_diff2 += (p_diff ** 2).sum()
        self.sum_p_diff4 += (p_diff ** 4).sum()
        self.n_same_top += int(same.sum())
        self.count += len(targets)
        self.kld_values.append(kld.astype(np.float32))
        self.p_diff_values.append(p_diff.astype(np.float32))

    def _cov(self) -> float:
        n = self.count
        if n < 10:
            return 0.0
        return (self.sum_nll_nll_base / n - (self.sum_nll / n) * (self.sum_nll_base / n)) / (n - 1)

    def summary(self) -> dict:
        """The headline numbers (means with standard errors, KLD percentiles, same top-1)."""
        n = self.count
        lp, lp_err = mean_and_uncertainty(self.sum_nll, self.sum_nll2, n)
        lb, lb_err = mean_and_uncertainty(self.sum_nll_base, self.sum_nll_base2, n)
        cov = self._cov()
        ratio_err = math.sqrt(max(0.0, lp_err ** 2 + lb_err ** 2 - 2 * cov))
        kld, kld_err = mean_and_uncertainty(self.sum_kld, self.sum_kld2, n)
        msq, msq_err = mean_and_uncertainty(self.sum_p_diff2, self.sum_p_diff4, n)
        rms = math.sqrt(msq)
        same = self.n_same_top / n
        kv = np.sort(np.concatenate(self.kld_values))
        pd = np.sort(np.concatenate(self.p_diff_values))
        return {
            "n_scored": n,
            "ppl": math.exp(lp), "ppl_err": math.exp(lp) * lp_err,
            "ppl_base": math.exp(lb), "ppl_base_err": math.exp(lb) * lb_err,
            "cor_ln_ppl": cov / (lp_err * lb_err) if lp_err > 0 and lb_err > 0 else float("nan"),
            "mean_ln_ppl_ratio": lp - lb, "mean_ln_ppl_ratio_err": ratio_err,
            "mean_kld": kld, "mean_kld_err": kld_err,
            "kld_percentiles": {str(q): float(np.quantile(kv, q / 100.0))
                                for q in (100, 99.9, 99, 95, 90, 50, 10, 5, 1, 0.1, 0)},
            "mean_p_diff": self.sum_p_diff / n,
            "p_diff_percentiles": {str(q): float(np.quantile(pd, q / 100.0))
                                   for q in (100, 99, 90, 50, 10, 1, 0)},
            "rms_p_diff": rms, "rms_p_diff_err": 0.5 / rms * msq_err if rms > 0 else 0.0,
            "same_top_p": same,
            "same_top_p_err": math.sqrt(same * (1 - same) / (n - 1)) if n > 1 else 0.0,
        }


@contextmanager
def _opened(base: "LogProbReader | str") -> Iterator[LogProbReader]:
    """A reader the caller opened (left open), or the path of one (opened and closed here)."""
    if isinstance(base, LogProbReader):
        yield base
        return
    reader = LogProbReader(base)
    try:
        yield reader
    finally:
        reader.close()


def kl_divergence(model, base: "LogProbReader | str", max_chunks: int = -1,
                  bos_id: Optional[int] = None,
                  on_chunk: Optional[Callable[[int, dict], None]] = None) -> dict:
    """Score `model` on the tokens of a base log-probability file (its n_ctx and chunks), given
    as its path or as a reader whose chunks have not been read yet."""
    with _opened(base) as base:
        if base.n_vocab != model.n_vocab:
            raise PerplexityError(f"{base.path}: the base model has {base.n_vocab} tokens in its "
                                  f"vocabulary, this model {model.n_vocab}")
        if base.n_ctx > model.n_ctx:
            raise PerplexityError(f"{base.path}: computed with a context of {base.n_ctx}; this "
                                  f"model was loaded with {model.n_ctx} (raise -c)")
        n_chunk = base.n_chunk if max_chunks < 0 else min(base.n_chunk, max_chunks)
        stats = KLDStats()
        for i, logits, targets in chunk_logits(model, base.tokens, base.n_ctx, n_chunk, bos_id):
            stats.add(logits, base.read_chunk(), targets)
            if on_chunk is not None:
                on_chunk(i, stats)
        out = stats.summary()
        out.update(n_ctx=base.n_ctx, n_chunk=n_chunk)
        return out


def report_lines(s: dict) -> List[str]:
    """llama-perplexity's closing report, line for line where edgeq computes the same thing."""
    pct = s["kld_percentiles"]
    pdp = s["p_diff_percentiles"]
    return [
        "====== Perplexity statistics ======",
        f"Mean PPL(Q)                   : {s['ppl']:10.6f} ± {s['ppl_err']:10.6f}",
        f"Mean PPL(base)                : {s['ppl_base']:10.6f} ± {s['ppl_base_err']:10.6f}",
        f"Cor(ln(PPL(Q)), ln(PPL(base))): {100 * s['cor_ln_ppl']:6.2f}%",
        f"Mean ln(PPL(Q)/PPL(base))     : {s['mean_ln_ppl_ratio']:10.6f} ± "
        f"{s['mean_ln_ppl_ratio_err']:10.6f}",
        "",
        "====== KL divergence statistics ======",
        f"Mean    KLD: {s['mean_kld']:10.6f} ± {s['mean_kld_err']:10.6f}",
        f"Maximum KLD: {pct['100']:10.6f}",
        f"99.9%   KLD: {pct['99.9']:10.6f}",
        f"99.0%   KLD: {pct['99']:10.6f}",
        f"Median  KLD: {pct['50']:10.6f}",
        f"Minimum KLD: {pct['0']:10.6f}",
        "",
        "====== Token probability statistics ======",
        f"Mean    Δp: {100 * s['mean_p_diff']:6.3f} %",
        f"Maximum Δp: {100 * pdp['100']:6.3f}%",
        f"Median  Δp: {100 * pdp['50']:6.3f}%",
        f"Minimum Δp: {100 * pdp['0']:6.3f}%",
        f"RMS Δp    : {100 * s['rms_p_diff']:6.3f} ± {100 * s['rms_p_diff_err']:5.3f} %",
        f"Same top p: {100 * s['same_top_p']:6.3f} ± {100 * s['same_top_p_err']:5.3f} %",
    ]
