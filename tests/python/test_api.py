"""The Python API (edgeq.Model), llama-cpp-python-shaped, on SmolLM2-135M: OpenAI-shaped dicts
and chunks, streaming equal to non-streaming, the KV-cache prefix reuse giving the same tokens
as a fresh model, seeds, stops, lifetime and errors."""
from __future__ import annotations

import numpy as np
import pytest

import edgeq
from edgeq.generate import PromptTooLongError, generate
from edgeq.model import load_model
from edgeq.sampling import SamplingParams


@pytest.fixture(scope="module")
def llm(smollm2):
    with edgeq.Model(str(smollm2), n_ctx=512, seed=1) as m:
        yield m


def test_completion_shape_and_greedy_tokens(llm, smollm2):
    out = llm("The capital of France is", max_tokens=12, temperature=0)
    assert out["object"] == "text_completion" and out["id"].startswith("cmpl-")
    choice = out["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] in ("length", "stop")
    ids = llm.tokenize(b"The capital of France is")
    assert out["usage"]["prompt_tokens"] == len(ids)
    assert out["usage"]["total_tokens"] == len(ids) + out["usage"]["completion_tokens"]
    # The same greedy continuation from the generation loop on a separately loaded model.
    fresh = load_model(smollm2, n_ctx=512)
    want = "".join(generate(fresh, ids, SamplingParams(temp=0), max_tokens=12))
    assert choice["text"] == want


def test_stream_equals_non_stream(llm):
    full = llm("Once upon a time", max_tokens=20, temperature=0)
    chunks = list(llm("Once upon a time", max_tokens=20, temperature=0, stream=True))
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == full["choices"][0]["text"]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0]["finish_reason"] == full["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == full["usage"]


def test_prefix_reuse_matches_fresh_model(llm, smollm2):
    """A longer prompt sharing a prefix with the cache evaluates only the new tokens and gives
    what a model with an empty cache gives."""
    llm("The quick brown fox", max_tokens=4, temperature=0)
    before = llm._model.n_past
    assert before > 0
    out = llm("The quick brown fox jumps over the lazy", max_tokens=8, temperature=0)
    fresh = edgeq.Model(str(smollm2), n_ctx=512)
    want = fresh("The quick brown fox jumps over the lazy", max_tokens=8, temperature=0)
    assert out["choices"][0]["text"] == want["choices"][0]["text"]
    fresh.close()


def test_seed_reproducible_sampling(llm):
    a = llm("My favourite colour is", max_tokens=16, temperature=1.0, seed=42)
    b = llm("My favourite colour is", max_tokens=16, temperature=1.0, seed=42)
    assert a["choices"][0]["text"] == b["choices"][0]["text"]


def test_stop_and_max_tokens(llm):
    out = llm("1, 2, 3, 4,", max_tokens=30, temperature=0, stop=[" 7"])
    text = out["choices"][0]["text"]
    assert " 7" not in text and out["choices"][0]["finish_reason"] == "stop"
    out = llm("1, 2, 3, 4,", max_tokens=3, temperature=0)
    assert out["usage"]["completion_tokens"] == 3 and out["choices"][0]["finish_reason"] == "length"


def test_chat_completion_and_stream(llm):
    messages = [{"role": "system", "content": "You are brief."},
                {"role": "user", "content": "Say hello."}]
    out = llm.create_chat_completion(messages, max_tokens=16, temperature=0)
    assert out["object"] == "chat.completion"
    msg = out["choices"][0]["message"]
    assert msg["role"] == "assistant" and isinstance(msg["content"], str) and msg["content"]
    chunks = list(llm.create_chat_completion(messages, max_tokens=16, temperature=0, stream=True))
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == msg["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == out["choices"][0]["finish_reason"]


def test_tokenize_detokenize_round_trip(llm):
    text = "Grüße, 世界! 🙂 x = [1, 2]\n\tend"
    ids = llm.tokenize(text.encode(), add_bos=False)
    assert llm.detokenize(ids).decode() == text


def test_errors(llm):
    with pytest.raises(ValueError, match="messages"):
        llm.create_chat_completion([])
    with pytest.raises(ValueError, match="top-p"):
        llm("x", top_p=2.0)
    with pytest.raises(PromptTooLongError):
        llm(list(np.ones(600, dtype=int)), max_tokens=1)


def test_close_frees_and_refuses(smollm2):
    m = edgeq.Model(str(smollm2), n_ctx=64)
    with m:
        assert m("Hi", max_tokens=1, temperature=0)["usage"]["completion_tokens"] <= 1
    with pytest.raises(RuntimeError, match="closed"):
        m("Hi", max_tokens=1)
