"""The generation loop: evaluate the prompt in one batch, then sample and evaluate one token at a
time, streaming text.

    stats = GenerationStats()
    for piece in generate(model, prompt_ids, SamplingParams(temp=0), max_tokens=64,
                          stop=["\\n\\n"], stats=stats):
        print(piece, end="", flush=True)
    print(stats.summary(), file=sys.stderr)

Tokens are appended to the model's KV cache at model.n_past, so a caller may keep a
conversation in the cache and pass only the new tokens. Generation ends at an end-of-generation
token (tokenizer.stop_ids), at a stop string (which is not emitted), after max_tokens, or when
the context is full.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .sampling import Sampler, SamplingParams


class PromptTooLongError(ValueError):
    """The prompt does not fit in the context window."""


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    prompt_seconds: float = 0.0
    generated_tokens: int = 0
    generation_seconds: float = 0.0
    stop_reason: str = ""  # "eos" | "stop" | "length" | "context" | "" (not finished)

    @staticmethod
    def _rate(n: int, seconds: float) -> str:
        return f"{n / seconds:.1f} tok/s" if seconds > 0 and n > 0 else "- tok/s"

    def summary(self) -> str:
        return (f"prompt: {self.prompt_tokens} tokens, "
                f"{self._rate(self.prompt_tokens, self.prompt_seconds)} | "
                f"generated: {self.generated_tokens} tokens, "
                f"{self._rate(self.generated_tokens, self.generation_seconds)}")


class StopStringBuffer:
    """Holds back streamed text that could be the start of a stop string.

    push(text) returns (text safe to emit, stopped). Once a stop string appears, the text before
    it is emitted and nothing after. Text that ends with a proper prefix of a stop string is
    kept until the next push shows whether the stop string completes.
    """

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.buf = ""
        self.stopped = False

    def _held_suffix_len(self) -> int:
        """Length of the longest suffix of buf that is a proper prefix of some stop string."""
        best = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.buf)), best, -1):
                if self.buf.endswith(s[:k]):
                    best = k
                    break
        return best

    def push(self, text: str) -> Tuple[str, bool]:
        if self.stopped:
            return "", True
        self.buf += text
        if not self.stops:
            out, self.buf = self.buf, ""
            return out, False
        hits = [i for i in (self.buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            out = self.buf[:min(hits)]
            self.buf = ""
            self.stopped = True
            return out, True
        keep = self._held_suffix_len()
        cut = len(self.buf) - keep
        out, self.buf = self.buf[:cut], self.buf[cut:]
        return out, False

    def flush(self) -> str:
        """End of generation without a stop string: the held text is ordinary text."""
        out, self.buf = ("" if self.stopped else self.buf), ""
        return out


def _last_row(logits: np.ndarray) -> np.ndarray:
    arr = np.asarray(logits)
    return arr.reshape(-1, arr.shape[-1])[-1]


def generate(model, prompt_ids: Sequence[int], params: Optional[SamplingParams] = None, *,
             max_tokens: int = -1, stop: Sequence[str] = (), sampler: Optional[Sampler] = None,
             stats: Optional[GenerationStats] = None,
             generated: Optional[List[int]] = None,
             on_phase: Optional[Callable[[str], None]] = None) -> Iterator[str]:
    """Return an iterator of the text pieces generated after `prompt_ids` (which are
    appended to the model's KV cache). Bad arguments (an empty prompt, one that does not fit
    in the context) raise here, before anything is evaluated.

    max_tokens: -1 = until an end-of-generation token or the context is full.
    sampler: pass one to keep repetition history across calls (it is fed the prompt too).
    stats: filled in as generation goes (valid after the iterator finishes or is closed).
    generated: if given, every sampled token id is appended to it (the end token too).
    on_phase: called with "prompt" before the prompt is evaluated, "generation" after it, and
    "done" at the end (energy metering per phase; outside the timed regions).
    """
    if max_tokens < -1:
        raise ValueError(f"max_tokens must be -1 or >= 0, got {max_tokens}")
    stats = stats if stats is not None else GenerationStats()
    sampler = sampler or Sampler(params or SamplingParams(), n_ctx=model.n_ctx)
    prompt = np.asarray(list(prompt_ids), dtype=np.int32)
    n_ctx = model.n_ctx
    if prompt.size == 0:
        raise ValueError("the prompt is empty")
    if model.n_past + prompt.size > n_ctx:
        raise PromptTooLongError(
            f"the prompt is {prompt.size} tokens but only {n_ctx - model.n_past} fit in the "
            f"context ({n_ctx} tokens, {model.n_past} in use); raise it with -c / --ctx-size")
    return _stream(model, prompt, sampler, max_tokens, stop, stats, generated,
                   on_phase or (lambda phase: None))


def _stream(model, prompt: np.ndarray, sampler: Sampler, max_tokens: int, stop: Sequence[str],
            stats: GenerationStats, generated: Optional[List[int]],
            on_phase: Callable[[str], None]) -> Iterator[str]:
    if max_tokens == 0:
        return
    tok = model.tokenizer
    n_ctx = model.n_ctx
    on_phase("prompt")
    t0 = time.perf_counter()
    try:
        logits = _last_row(model.eval(prompt))
    except BaseException:
        on_phase("done")
        raise
    stats.prompt_tokens = int(prompt.size)
    stats.prompt_seconds = time.perf_counter() - t0
    on_phase("generation")
    for t in prompt:
        sampler.accept(int(t))

    stop_ids = set(tok.stop_ids)
    decoder = tok.stream_decoder()
    holder = StopStringBuffer(stop)
    t1 = time.perf_counter()
    try:
        while True:
            token = sampler.sample(logits)
            if generated is not None:
                generated.append(token)
            if token in stop_ids:
                stats.stop_reason = "eos"
                break
            stats.generated_tokens += 1
            sampler.accept(token)
            text, stopped = holder.push(decoder.push(token))
            if text:
                yield text
            if stopped:
                stats.stop_reason = "stop"
                break
            if 0 <= max_tokens <= stats.generated_tokens:
                stats.stop_reason = "length"
                break
            if model.n_past >= n_ctx:
                stats.stop_reason = "context"
                break
            logits = _last_row(model.eval(np.array([token], dtype=np.int32)))
        if not holder.stopped:
            text, _ = holder.push(decoder.flush())
            text += holder.flush()
            if text:
                yield text
    finally:
        stats.generation_seconds = time.perf_counter() - t1
        on_phase("done")
