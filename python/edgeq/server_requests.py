"""Validation of OpenAI request bodies for `edgeq serve`: every field is known, typed and in
range, or the request gets an OpenAI-shaped 400 naming the field (`param`)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple


class RequestError(Exception):
    """An OpenAI-shaped error: HTTP status, message, type, param, code."""

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 code: Optional[str] = None, etype: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.etype = (status, message, param,
                                                                        code, etype)

    def body(self) -> Dict[str, Any]:
        return {"error": {"message": self.message, "type": self.etype, "param": self.param,
                          "code": self.code}}


def _num(body, name, lo=None, hi=None, integer=False, default=None):
    v = body.get(name, default)
    if v is None:
        return default
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise RequestError(400, f"'{name}' must be {kind}", name)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise RequestError(400, f"'{name}' must be in [{lo}, {hi}], got {v}", name)
    return v


def _stops(body) -> List[str]:
    v = body.get("stop")
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and len(v) <= 16 and all(isinstance(s, str) for s in v):
        return v
    raise RequestError(400, "'stop' must be a string or a list of at most 16 strings", "stop")


# Fields accepted by both endpoints and their sampling meaning (edgeq.Model keyword).
COMMON = {"model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
          "frequency_penalty", "presence_penalty", "stop", "seed", "stream", "stream_options",
          "n", "user"}
COMPLETION_FIELDS = COMMON | {"prompt", "echo"}
CHAT_FIELDS = COMMON | {"messages", "max_completion_tokens"}


def sampling_kwargs(body: Dict[str, Any], default_max: Optional[int]) -> Dict[str, Any]:
    """The edgeq.Model keyword arguments of a request (validated)."""
    if _num(body, "n", 1, 1, integer=True, default=1) != 1:
        raise RequestError(400, "only n = 1 is supported", "n")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise RequestError(400, "'stream' must be a boolean", "stream")
    opts = body.get("stream_options")
    if opts is not None and (not isinstance(opts, dict) or set(opts) - {"include_usage"}):
        raise RequestError(400, "'stream_options' may only hold 'include_usage'", "stream_options")
    max_tokens = _num(body, "max_tokens", 1, None, integer=True,
                      default=_num(body, "max_completion_tokens", 1, None, integer=True,
                                   default=default_max))
    # Absent fields take llama.cpp's sampling defaults (as llama-server does), not OpenAI's
    # temperature 1 / top_p 1, which small local models sample poorly with.
    return {
        "max_tokens": max_tokens,
        "temperature": _num(body, "temperature", 0, 2, default=0.8),
        "top_p": _num(body, "top_p", 0, 1, default=0.95),
        "top_k": _num(body, "top_k", 0, None, integer=True, default=40),
        "min_p": _num(body, "min_p", 0, 1, default=0.05),
        "repeat_penalty": _num(body, "repeat_penalty", 0.01, 10, default=1.0),
        "frequency_penalty": _num(body, "frequency_penalty", -2, 2, default=0.0),
        "presence_penalty": _num(body, "presence_penalty", -2, 2, default=0.0),
        "stop": _stops(body),
        "seed": _num(body, "seed", 0, 2**63 - 1, integer=True, default=None),
    }


def check_fields(body: Any, allowed: set) -> Dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RequestError(400, f"unknown field '{unknown[0]}'", unknown[0], "unknown_field")
    return body


def completion_request(body: Any) -> Tuple[Any, Dict[str, Any], bool]:
    """(prompt: str or token ids, sampling kwargs, echo)."""
    body = check_fields(body, COMPLETION_FIELDS)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list):
        if not prompt or not all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            raise RequestError(400, "'prompt' must be a string, one string in a list, or a "
                                    "non-empty list of token ids", "prompt")
    elif not isinstance(prompt, str):
        raise RequestError(400, "'prompt' is required (a string or a list of token ids)",
                           "prompt")
    echo = body.get("echo", False)
    if not isinstance(echo, bool):
        raise RequestError(400, "'echo' must be a boolean", "echo")
    return prompt, sampling_kwargs(body, default_max=16), echo


def chat_request(body: Any) -> Tuple[List[Dict[str, str]], Dict[str, Any]]:
    body = check_fields(body, CHAT_FIELDS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list", "messages")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(400, f"messages[{i}] needs a string 'role'", "messages")
        content = m.get("content", "")
        if isinstance(content, list):  # OpenAI content parts: text only
            if not all(isinstance(p, dict) and p.get("type") == "text" and
                       isinstance(p.get("text"), str) for p in content):
                raise RequestError(400, f"messages[{i}].content: only text parts are "
                                        "supported", "messages")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, (str, type(None))):
            raise RequestError(400, f"messages[{i}].content must be a string", "messages")
        clean.append({"role": m["role"], "content": content or ""})
    return clean, sampling_kwargs(body, default_max=None)
