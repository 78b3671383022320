"""Tokenizer from GGUF metadata (edgeq.tokenizer).

Ground truth: llama.cpp's tokenizer test cases (shared/data/vocab/ggml-vocab-*.gguf with .inp /
.out), checked the way llama.cpp's tests/test-tokenizer-0.cpp checks them:
llama_tokenize(text, add_special=false, parse_special=false) must give exactly the ids of the
.out line. For SentencePiece vocabularies that call still puts the dummy-prefix space before the
text (llama.cpp adds it to the first text fragment whatever add_special says), and
llama_detokenize drops it again from the first piece; so decode(ids) must give the input back,
for the expected ids and for ours.

Independent oracles beyond the .out files: Hugging Face `tokenizers`' own pre-tokenizers
(ByteLevel's GPT-2 regex, Digits) for the gpt-2 and smollm vocabularies.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import shared_data_dir
from edgeq import pretokenizers
from edgeq.gguf import open_gguf
from edgeq.tokenizer import BYTE, CONTROL, NORMAL, USER_DEFINED, Tokenizer

SEPARATOR = "\n__ggml_vocab_test__\n"
VOCAB_FILES = sorted((shared_data_dir() / "vocab").glob("ggml-vocab-*.gguf"))


def read_cases(path: Path):
    """(input, expected ids) pairs as test-tokenizer-0.cpp reads them: inputs separated by
    SEPARATOR (a final separator ends the last input), one stripped line of ids per input."""
    raw = path.with_name(path.name + ".inp").read_bytes().decode("utf-8")
    inputs = []
    pos = 0
    while pos < len(raw):
        nxt = raw.find(SEPARATOR, pos)
        if nxt < 0:
            inputs.append(raw[pos:])
            break
        inputs.append(raw[pos:nxt])
        pos = nxt + len(SEPARATOR)
    lines = path.with_name(path.name + ".out").read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # getline() sees no line after the final newline
    assert len(inputs) == len(lines), f"{path.name}: {len(inputs)} inputs, {len(lines)} outputs"
    return [(text, [int(t) for t in line.split()]) for text, line in zip(inputs, lines)]


_TOKENIZERS = {}


def load(path: Path) -> Tokenizer:
    if path not in _TOKENIZERS:
        _TOKENIZERS[path] = Tokenizer.from_gguf(path)
    return _TOKENIZERS[path]


def vocab(shared_data: Path, name: str) -> Tokenizer:
    return load(shared_data / "vocab" / f"ggml-vocab-{name}.gguf")


# ---- llama.cpp's test cases ------------------------------------------------------------------

@pytest.mark.parametrize("path", VOCAB_FILES or [None], ids=lambda p: p.name if p else "none")
def test_llama_cpp_cases(path, shared_data):
    assert path is not None, f"no ggml-vocab-*.gguf in {shared_data / 'vocab'}"
    cases = read_cases(path)
    tok = load(path)
    compared = 0
    failures = []
    for text, expected in cases:
        got = tok.encode(text, add_special=False, parse_special=False)
        compared += 1
        if got != expected:
            failures.append(f"encode {text!r}: expected {expected}, got {got}")
        for ids in (expected, got):
            back = tok.decode(ids)
            if back != text:
                failures.append(f"decode {ids} -> {back!r}, not {text!r}")
    print(f"{path.name}: {compared} cases compared, {len(failures)} failures")
    assert compared > 0 and compared == len(cases)
    assert not failures, "\n".join(failures[:20])


def test_add_special_and_stop_ids(shared_data):
    spm = vocab(shared_data, "llama-spm")
    assert spm.add_bos and not spm.add_eos and (spm.bos_id, spm.eos_id) == (1, 2)
    assert spm.encode("Hello") == [1] + spm.encode("Hello", add_special=False)
    assert spm.encode("") == [1] and spm.encode("", add_special=False) == []
    assert spm.decode(spm.encode("Hello"), skip_special=True) == "Hello"
    assert spm.decode(spm.encode("Hello")) == "<s>Hello"
    assert 2 in spm.stop_ids

    llama3 = vocab(shared_data, "llama-bpe")  # llama-bpe: add_bos by default, <|eot_id|> is EOT
    assert llama3.add_bos and llama3.bos_id == 128000
    assert llama3.encode("Hi")[0] == 128000 and llama3.encode("Hi", add_special=False)[0] != 128000
    assert llama3.piece(llama3.eot_id) == "<|eot_id|>"
    assert {llama3.eos_id, llama3.eot_id} <= llama3.stop_ids

    gpt2 = vocab(shared_data, "gpt-2")  # BPE default: no BOS added
    assert not gpt2.add_bos and gpt2.encode("Hi") == gpt2.encode("Hi", add_special=False)
    assert gpt2.piece(gpt2.eos_id) == "<|endoftext|>" and gpt2.eos_id in gpt2.stop_ids


def test_parse_special_and_spm_prefix(shared_data):
    spm = vocab(shared_data, "llama-spm")
    text = "<s>Hello</s>world"
    plain = spm.encode(text, add_special=False)
    assert 1 not in plain and 2 not in plain  # control tokens are text without parse_special
    ids = spm.encode(text, add_special=False, parse_special=True)
    # llama.cpp puts the dummy-prefix space before every text fragment after a special token.
    assert ids == [1] + spm.encode("Hello", add_special=False) + [2] + spm.encode("world", add_special=False)
    assert spm.piece(ids[1]).startswith("\u2581")
    assert spm.decode(ids) == text and spm.decode(plain) == text
    assert spm.decode(ids, skip_special=True) == "Helloworld"

    llama3 = vocab(shared_data, "llama-bpe")
    text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    ids = llama3.encode(text, add_special=False, parse_special=True)
    assert ids[0] == llama3.token_id("<|start_header_id|>") and ids[-1] == llama3.eot_id
    assert llama3.decode(ids) == text
    assert llama3.eot_id not in llama3.encode(text, add_special=False)
    assert llama3.decode(llama3.encode(text, add_special=False)) == text


def test_token_bytes_and_types(shared_data):
    spm = vocab(shared_data, "llama-spm")
    nl = spm.token_id("<0x0A>")
    assert spm.token_type(nl) == BYTE and spm.token_to_bytes(nl) == b"\n"
    the = spm.token_id("\u2581the")
    assert spm.token_type(the) == NORMAL and spm.token_to_bytes(the) == b" the"
    assert spm.token_type(1) == CONTROL and spm.token_to_bytes(1) == b"<s>"
    gpt2 = vocab(shared_data, "gpt-2")
    assert gpt2.token_to_bytes(gpt2.token_id("\u0120world")) == b" world"  # "Ġworld"
    assert gpt2.token_to_bytes(gpt2.token_id("\u010a")) == b"\n"  # "Ċ"
    assert gpt2.piece(gpt2.token_id("\u0120world")) == "\u0120world"
    # Every one of the 256 byte tokens maps back to its byte.
    byte_ids = gpt2.encode(bytes(range(256)).decode("latin-1"), add_special=False)
    assert b"".join(gpt2.token_to_bytes(i) for i in byte_ids) == bytes(range(256)).decode("latin-1").encode()


def _hf_native(gguf_path: Path, pre_tokenizer):
    """A `tokenizers` BPE over a GGUF vocabulary with one of the library's own pre-tokenizers."""
    from tokenizers import Tokenizer as HF, decoders, models

    md = open_gguf(gguf_path).metadata
    tokens = md["tokenizer.ggml.tokens"]
    merges = [tuple(m.split(" ", 1)) for m in md["tokenizer.ggml.merges"]]
    hf = HF(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    hf.pre_tokenizer = pre_tokenizer
    hf.decoder = decoders.ByteLevel()
    return hf


def _corpus(shared_data: Path):
    text = (shared_data / "britannica-shakespeare.txt").read_text(encoding="utf-8")[:60000]
    chunks = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    chunks += [MIXED, "  \n\n\t x  y   \u00a0z\u3000w\r\n", "1234567890 12.5e-3 0x1F", "I'm you'LL we'RE"]
    return chunks


MIXED = ("def f(x):\n    return x ** 2  # 12345, 3.14\n\n\t\ttabs  and   runs   \n"
         "\U0001F999 \U0001F680\U0001F600 emoji; \u4f60\u597d\u4e16\u754c CJK; \u00e9\u0301 "
         "\ufb01 \u0928\u092e\u0938\u094d\u0924\u0947 <|im_start|> <s> [INST] </s> <|endoftext|>"
         " don't I'll it's   \u200b zero-width \u00a0nbsp")


def test_gpt2_matches_hf_bytelevel(shared_data):
    """The gpt-2 pre-tokenizer regex equals `tokenizers`' ByteLevel(use_regex=True)."""
    from tokenizers import pre_tokenizers

    path = shared_data / "vocab" / "ggml-vocab-gpt-2.gguf"
    hf = _hf_native(path, pre_tokenizers.ByteLevel(add_prefix_space=False))
    tok = load(path)
    compared = 0
    for chunk in _corpus(shared_data):
        assert tok.encode(chunk, add_special=False) == hf.encode(chunk, add_special_tokens=False).ids
        compared += 1
    assert compared > 10


def test_every_pre_tokenizer_compiles_and_is_lossless():
    """Each regex list compiles in Oniguruma and its pieces put back together give the text."""
    from tokenizers import Tokenizer as HF

    text = MIXED + " 1234567 IMGIMGABZ <sentinel:12> Hello WORLD camelCase"
    assert len(pretokenizers.PRE_TOKENIZERS) > 80
    for name, pre in pretokenizers.PRE_TOKENIZERS.items():
        spec = {"version": "1.0", "added_tokens": [], "normalizer": None, "post_processor": None,
                "decoder": None, "truncation": None, "padding": None,
                "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False}
                    for r in pre.regexes]},
                "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}
        hf = HF.from_str(json.dumps(spec))
        pieces = [p for p, _ in hf.pre_tokenizer.pre_tokenize_str(text)]
        assert "".join(pieces) == text, name
        assert len(pieces) > 10, name


def test_pre_tokenizer_splits_like_llama_cpp():
    """A few splits that tell the pre types apart (digits one by one, in threes, Han runs)."""
    from tokenizers import Tokenizer as HF

    def split(name, text):
        spec = {"version": "1.0", "added_tokens": [], "normalizer": None, "post_processor": None,
                "decoder": None, "truncation": None, "padding": None,
                "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False}
                    for r in pretokenizers.lookup(name).regexes]},
                "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}
        return [p for p, _ in HF.from_str(json.dumps(spec)).pre_tokenizer.pre_tokenize_str(text)]

    assert split("smollm", "ab 1234") == ["ab", " ", "1", "2", "3", "4"]
    assert split("llama-bpe", "ab 1234567") == ["ab", " ", "123", "456", "7"]
    assert split("qwen2", "x 12") == ["x", " ", "1", "2"]
    assert split("gpt-2", "Hello  world") == ["Hello", " ", " world"]
    assert split("llama-bpe", "I'M here") == ["I", "'M", " here"]
    assert split("deepseek-llm", "ab\u4f60\u597d12") == ["ab", "\u4f60\u597d", "12"]
    assert split("superbpe", "1234567") == ["1", "234", "567"]


def test_unknown_pre_and_model_are_errors(shared_data):
    md = dict(open_gguf(shared_data / "vocab" / "ggml-vocab-gpt-2.gguf").metadata)
    with pytest.raises(ValueError, match="no-such-pre"):
        Tokenizer.from_metadata({**md, "tokenizer.ggml.pre": "no-such-pre"})
    with pytest.raises(ValueError, match="kimi-k2"):
        Tokenizer.from_metadata({**md, "tokenizer.ggml.pre": "kimi-k2"})
    with pytest.raises(ValueError, match="bert"):
        Tokenizer.from_metadata({**md, "tokenizer.ggml.model": "bert"})
    with pytest.raises(ValueError, match="tokens"):
        Tokenizer.from_metadata({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2"})
    dup = list(md["tokenizer.ggml.tokens"])
    dup[5] = dup[4]
    with pytest.raises(ValueError, match="duplicate token"):
        Tokenizer.from_metadata({**md, "tokenizer.ggml.tokens": dup})
    # Another pre over the same vocabulary changes the splits, not the round trip.
    qwen = Tokenizer.from_metadata({**md, "tokenizer.ggml.pre": "qwen2"})
    assert qwen.encode("x 123", add_special=False) != load(shared_data / "vocab" / "ggml-vocab-gpt-2.gguf").encode("x 123", add_special=False)
    assert qwen.decode(qwen.encode(MIXED, add_special=False)) == MIXED


def _with_tokens(md: dict, tokens, score=0.0, ttype=NORMAL) -> dict:
    import numpy as np

    md = dict(md)
    md["tokenizer.ggml.tokens"] = list(md["tokenizer.ggml.tokens"]) + list(tokens)
    if "tokenizer.ggml.scores" in md:
        md["tokenizer.ggml.scores"] = np.concatenate(
            [md["tokenizer.ggml.scores"], np.full(len(tokens), score, np.float32)])
    md["tokenizer.ggml.token_type"] = np.concatenate(
        [md["tokenizer.ggml.token_type"], np.full(len(tokens), ttype, np.int32)])
    return md


def test_unusual_vocabularies(shared_data):
    """Paths the shipped vocabularies do not take: a piece too long for the vectorized
    ModelProto writer, pieces that are not valid UTF-8, merges `tokenizers` cannot hold,
    user-defined tokens (split out even without parse_special)."""
    spm_md = open_gguf(shared_data / "vocab" / "ggml-vocab-llama-spm.gguf").metadata
    spm = vocab(shared_data, "llama-spm")
    long_piece = Tokenizer.from_metadata(_with_tokens(spm_md, ["\u2581" + "x" * 150]))
    odd_bytes = Tokenizer.from_metadata(_with_tokens(spm_md, ["\udcff\udcfe"]))
    assert odd_bytes.token_to_bytes(spm.n_vocab) == b"\xff\xfe"
    for chunk in _corpus(shared_data)[:6] + [MIXED]:
        expected = spm.encode(chunk)
        assert long_piece.encode(chunk) == expected
        assert odd_bytes.encode(chunk) == expected

    gpt2_md = dict(open_gguf(shared_data / "vocab" / "ggml-vocab-gpt-2.gguf").metadata)
    gpt2 = vocab(shared_data, "gpt-2")
    odd = dict(gpt2_md)
    odd["tokenizer.ggml.merges"] = list(gpt2_md["tokenizer.ggml.merges"]) + ["nothere zzz", "broken"]
    odd["tokenizer.ggml.tokens"] = list(gpt2_md["tokenizer.ggml.tokens"][:-1]) + ["\udcff\udcfe"]
    odd = Tokenizer.from_metadata(odd)
    assert odd.token_to_bytes(gpt2.n_vocab - 1) == b"\xff\xfe"
    assert odd.encode(MIXED, add_special=False) == gpt2.encode(MIXED, add_special=False)

    user = Tokenizer.from_metadata(_with_tokens(gpt2_md, ["<tool>"], ttype=USER_DEFINED))
    tool = gpt2.n_vocab
    ids = user.encode("call <tool> now", add_special=False, parse_special=False)
    assert tool in ids and user.decode(ids) == "call <tool> now"
    assert user.decode(ids, skip_special=True) == "call <tool> now"  # user-defined is text


def test_stream_decoder_invalid_bytes(shared_data):
    gpt2 = vocab(shared_data, "gpt-2")
    byte_token = {gpt2.token_to_bytes(i)[0]: i for i in range(gpt2.n_vocab)
                  if len(gpt2.token_to_bytes(i)) == 1}
    sd = gpt2.stream_decoder()
    assert sd.push(byte_token[0x80]) == "\ufffd"  # a lone continuation byte: at once
    assert sd.push(byte_token[0xE4]) == ""        # first byte of a 3-byte character: waits
    assert sd.push(byte_token[0xBD]) == ""
    assert sd.push(byte_token[0xA0]) == "\u4f60"
    assert sd.push(byte_token[0xE4]) == ""
    assert sd.flush() == "\ufffd"                 # unfinished at the end
    assert sd.push(byte_token[ord("a")]) == "a"


# ---- SmolLM2 (gpt2 vocabulary, pre "smollm") -------------------------------------------------

def test_smollm2_round_trip_and_specials(smollm2):
    tok = load(smollm2)
    assert tok.model == "gpt2" and tok.pre == "smollm" and tok.n_vocab == 49152
    assert not tok.add_bos and tok.bos_id == 1 and tok.eos_id == 2
    assert tok.piece(tok.eot_id) == "<|im_end|>"
    assert {tok.token_id("<|im_end|>"), tok.token_id("<|endoftext|>")} <= tok.stop_ids
    ids = tok.encode(MIXED, add_special=False)
    assert tok.decode(ids) == MIXED
    im_start = tok.token_id("<|im_start|>")
    assert im_start == 1
    assert im_start not in ids  # plain text mode does not parse "<|im_start|>"
    chat = "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    parsed = tok.encode(chat, parse_special=True)
    assert parsed[0] == im_start and parsed.count(im_start) == 2 and tok.eot_id in parsed
    assert tok.decode(parsed) == chat
    assert tok.decode(parsed, skip_special=True) == "user\nHi there\nassistant\n"
    for text in ("", " ", "   ", "\n\n", "a  b", "x" * 5000, "\U0001F999" * 3):
        assert tok.decode(tok.encode(text, add_special=False)) == text


def test_smollm2_matches_hf_native_pre_tokenizer(smollm2, shared_data):
    """SmolLM2's tokenizer.json pre-tokenizer is Sequence[Digits(individual), ByteLevel]."""
    from tokenizers import pre_tokenizers

    hf = _hf_native(smollm2, pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)]))
    tok = load(smollm2)
    compared = 0
    for chunk in _corpus(shared_data):
        assert tok.encode(chunk, add_special=False) == hf.encode(chunk, add_special_tokens=False).ids
        compared += 1
    assert compared > 10


def test_smollm2_stream_decoder(smollm2):
    tok = load(smollm2)
    text = "\U0001F999\U0001F680 \u4f60\u597d\u4e16\u754c \u00e9\u0301 ok \U0001F600!"
    ids = tok.encode(text, add_special=False)
    assert len(ids) > len(text) // 2  # the emoji and CJK really are split into byte tokens
    sd = tok.stream_decoder()
    pieces = [sd.push(i) for i in ids]
    pieces.append(sd.flush())
    assert "".join(pieces) == text
    assert sum(1 for p in pieces if p == "") > 0  # some tokens ended inside a character
    for p in pieces:
        assert "\ufffd" not in p
        p.encode("utf-8")  # no lone surrogates: whole characters only
