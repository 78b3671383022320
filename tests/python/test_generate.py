"""The generation loop with a scripted fake model: stop strings, end tokens, limits, stats."""
import numpy as np
import pytest

from edgeq.generate import GenerationStats, PromptTooLongError, StopStringBuffer, generate
from edgeq.sampling import SamplingParams

EOS = 0
GREEDY = SamplingParams(temp=0.0)


class _Decoder:
    def __init__(self, tok):
        self.tok = tok

    def push(self, i):
        return self.tok.vocab[i]

    def flush(self):
        return ""


class _Tokenizer:
    """Id 0 is the end token; id i > 0 is the i-th character of `alphabet`."""

    def __init__(self, alphabet):
        self.vocab = [""] + list(alphabet)
        self.stop_ids = {EOS}

    def ids(self, text):
        return [self.vocab.index(c) for c in text]

    def stream_decoder(self):
        return _Decoder(self)


class _ScriptedModel:
    """eval() returns one-hot logits for the next id of `script`, whatever the input."""

    def __init__(self, tokenizer, script, n_ctx=64):
        self.tokenizer = tokenizer
        self.script = list(script)
        self.n_ctx = n_ctx
        self.n_vocab = len(tokenizer.vocab)
        self.n_past = 0
        self.calls = []

    def eval(self, tokens, all_logits=False):
        tokens = np.asarray(tokens)
        assert self.n_past + tokens.size <= self.n_ctx
        self.calls.append(tokens.tolist())
        self.n_past += tokens.size
        logits = np.zeros((1, self.n_vocab), dtype=np.float32)
        logits[0, self.script.pop(0)] = 10.0
        return logits


ALPHABET = "abcdefghijklmnopqrstuvwxyz #!.\n"


def _run(text, stop=(), max_tokens=-1, n_ctx=64, prompt="ab", eos=True):
    tok = _Tokenizer(ALPHABET)
    script = tok.ids(text) + ([EOS] if eos else [])
    model = _ScriptedModel(tok, script, n_ctx=n_ctx)
    stats = GenerationStats()
    pieces = list(generate(model, tok.ids(prompt), GREEDY, max_tokens=max_tokens, stop=stop,
                           stats=stats))
    return pieces, stats, model


def test_plain_generation_until_eos():
    pieces, stats, model = _run("hello")
    assert "".join(pieces) == "hello"
    assert stats.stop_reason == "eos" and stats.generated_tokens == 5
    assert stats.prompt_tokens == 2
    assert model.calls[0] == [1, 2]  # the prompt is evaluated in one call
    assert all(len(c) == 1 for c in model.calls[1:])


def test_stop_string_across_tokens_is_never_printed():
    pieces, stats, _ = _run("hello ##end## more", stop=["##end##"])
    assert "".join(pieces) == "hello "
    assert stats.stop_reason == "stop"
    assert not any("#" in p for p in pieces)


def test_false_start_of_stop_string_is_released():
    pieces, stats, _ = _run("a#b##c", stop=["##!"])
    assert "".join(pieces) == "a#b##c"
    assert stats.stop_reason == "eos"
    # "a" can go at once; "#" waits until "b" shows it was not the stop string
    assert pieces[0] == "a" and pieces[1] == "#b"


def test_earliest_of_several_stop_strings_wins():
    pieces, _, _ = _run("xx. yy! zz", stop=["!", ". y"])
    assert "".join(pieces) == "xx"


def test_held_text_flushed_at_length_limit():
    pieces, stats, _ = _run("abc#", stop=["#!"], max_tokens=4, eos=False)
    assert "".join(pieces) == "abc#"
    assert stats.stop_reason == "length" and stats.generated_tokens == 4


def test_max_tokens_and_zero():
    pieces, stats, _ = _run("abcdef", max_tokens=3)
    assert "".join(pieces) == "abc" and stats.stop_reason == "length"
    pieces, stats, model = _run("abc", max_tokens=0)
    assert pieces == [] and model.calls == []


def test_context_limit_stops_generation():
    pieces, stats, model = _run("abcdefghij", n_ctx=6, prompt="ab")
    # 2 prompt tokens + 4 evaluated generated tokens fill 6; the 5th sampled token is
    # printed but cannot be evaluated
    assert "".join(pieces) == "abcde"
    assert stats.stop_reason == "context" and model.n_past == 6


def test_prompt_longer_than_context_is_clear_error():
    with pytest.raises(PromptTooLongError, match="prompt is 8 tokens.*context"):
        _run("abc", n_ctx=4, prompt="abcdefgh")
    with pytest.raises(ValueError, match="empty"):
        _run("abc", prompt="")


def test_stop_buffer_unit():
    b = StopStringBuffer(["</s>"])
    assert b.push("hi <") == ("hi ", False)
    assert b.push("/") == ("", False)
    assert b.push("x") == ("</x", False)
    assert b.push("ok</s>tail") == ("ok", True)
    assert b.push("more") == ("", True)
    assert b.flush() == ""
    b = StopStringBuffer([])
    assert b.push("abc") == ("abc", False)


def test_stats_summary_format():
    s = GenerationStats(prompt_tokens=12, prompt_seconds=0.5, generated_tokens=64,
                        generation_seconds=2.0)
    assert s.summary() == "prompt: 12 tokens, 24.0 tok/s | generated: 64 tokens, 32.0 tok/s"
