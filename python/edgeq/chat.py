"""Chat templates (rendered in a Jinja2 sandbox) and a conversation kept in the KV cache.

The template comes from the model file (`tokenizer.chat_template`): untrusted text, so it is
rendered with jinja2's ImmutableSandboxedEnvironment, and any access to an unsafe attribute
(`''.__class__`, `x.__globals__`, ...) raises instead of quietly rendering nothing. The
variables match what Hugging Face's apply_chat_template passes: messages, add_generation_prompt,
bos_token, eos_token, raise_exception(), strftime_now(). A model without a template gets ChatML.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

Message = Mapping[str, str]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class ChatTemplateError(ValueError):
    """The chat template failed to compile or render (or tried something unsafe)."""


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """A sandbox where an unsafe attribute access is an error rather than an empty value."""

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of "
                            f"{type(obj).__name__!r} object is unsafe")


def _raise_exception(message: str):
    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value, indent=None, ensure_ascii=False, sort_keys=False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


class ChatTemplate:
    def __init__(self, source: str, bos_token: str = "", eos_token: str = "",
                 is_fallback: bool = False):
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.is_fallback = is_fallback
        env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(source)
        except TemplateError as e:
            raise ChatTemplateError(f"chat template does not compile: {_one_line(e)}") from None

    @classmethod
    def from_metadata(cls, metadata: Mapping, bos_id: Optional[int] = None,
                      eos_id: Optional[int] = None) -> "ChatTemplate":
        """The model's template (ChatML if it has none; check .is_fallback to say so)."""
        tokens = metadata.get("tokenizer.ggml.tokens") or []

        def token_text(i: Optional[int]) -> str:
            return str(tokens[i]) if i is not None and 0 <= i < len(tokens) else ""

        bos = token_text(bos_id if bos_id is not None
                         else metadata.get("tokenizer.ggml.bos_token_id"))
        eos = token_text(eos_id if eos_id is not None
                         else metadata.get("tokenizer.ggml.eos_token_id"))
        source = metadata.get("tokenizer.chat_template")
        if isinstance(source, str) and source.strip():
            return cls(source, bos, eos)
        return cls(CHATML_TEMPLATE, bos, eos, is_fallback=True)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        try:
            return self._template.render(
                messages=[dict(m) for m in messages],
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token, eos_token=self.eos_token)
        except SecurityError as e:
            raise ChatTemplateError(f"chat template refused: {_one_line(e)}") from None
        except TemplateError as e:
            raise ChatTemplateError(f"chat template failed: {_one_line(e)}") from None
        except (TypeError, ValueError, AttributeError, KeyError, IndexError,
                ZeroDivisionError, OverflowError, RecursionError) as e:
            raise ChatTemplateError(f"chat template failed: {type(e).__name__}: "
                                    f"{_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def encode_chat(tokenizer, template: ChatTemplate, messages: Sequence[Message],
                add_generation_prompt: bool = True) -> List[int]:
    """Render and tokenize (special tokens in the text are parsed); one BOS at most."""
    text = template.render(messages, add_generation_prompt)
    ids = tokenizer.encode(text, add_special=True, parse_special=True)
    bos = tokenizer.bos_id
    if len(ids) >= 2 and bos is not None and ids[0] == bos and ids[1] == bos:
        ids = ids[1:]  # the template wrote the BOS and the tokenizer added another
    return list(ids)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(np.asarray(a[:n]) != np.asarray(b[:n]))[0]
    return int(diff[0]) if diff.size else n


class Conversation:
    """Messages plus the token ids now in the model's KV cache.

    Each turn renders the whole conversation, keeps the longest cached prefix that still
    matches (model.truncate), and returns only the new tokens to evaluate.
    """

    def __init__(self, model, template: ChatTemplate, system: Optional[str] = None):
        self.model = model
        self.template = template
        self.system = system
        self.messages: List[Dict[str, str]] = []
        self.cached: List[int] = []  # ids whose K/V are in the model, positions 0..n-1
        self._pending: List[int] = []  # ids handed out by prepare(), not yet confirmed
        self.reset()

    def reset(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []
        self.cached = []
        self.model.reset()

    def prepare(self, user_text: str) -> List[int]:
        """Add a user message; return the tokens still to evaluate for the reply prompt."""
        self.messages.append({"role": "user", "content": user_text})
        ids = encode_chat(self.model.tokenizer, self.template, self.messages)
        keep = common_prefix_len(self.cached, ids)
        if keep == len(ids):
            keep -= 1  # evaluate at least one token to get fresh logits
        self.model.truncate(keep)
        self.cached = ids[:keep]
        self._pending = ids[keep:]
        return self._pending

    def finish(self, reply_text: str, generated: Sequence[int]) -> None:
        """Record the reply; `generated` are the sampled ids (the model evaluated a prefix)."""
        self.messages.append({"role": "assistant", "content": reply_text})
        self.cached = (self.cached + list(self._pending) + list(generated))[:self.model.n_past]
        self._pending = []

    def undo_user(self) -> None:
        """Drop the last user message (its prompt could not be evaluated)."""
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages.pop()
        self._pending = []
        self.model.truncate(len(self.cached))
