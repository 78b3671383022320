"""Pre-tokenizer regexes of byte-level BPE vocabularies, keyed by GGUF `tokenizer.ggml.pre`.

llama.cpp (src/llama-vocab.cpp, `llm_tokenizer_bpe`) maps every `tokenizer.ggml.pre` name to a
pre-tokenizer type and every type to a list of regexes. The text is split by the first regex
(matches and the text between them both become pieces, "isolated"), each piece by the next regex,
and so on; BPE then runs on each final piece. The tables below copy those lists and the per-name
flags. The regexes are run by Oniguruma (inside Hugging Face `tokenizers`), which has real
Unicode categories; llama.cpp runs them with hand-written splitters (gpt-2, llama3) or std::regex
on text whose non-ASCII characters are collapsed to one stand-in per category. The two agree
except where a regex distinguishes letter subcategories (\\p{Lu} / \\p{Ll}: `youtu`, `tiny_aya`),
where llama.cpp treats every letter alike and Oniguruma (like the models' own tokenizer.json)
does not.

Non-ASCII characters are written as escapes so that no editor or Unicode normalization can change
them (several Greek and letterlike symbols below are NFC-unstable, e.g. U+212A KELVIN SIGN).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# English contractions, case-insensitive (llama.cpp spells out the (?i:...) of tokenizer.json).
_CONTRACTIONS = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

# The GPT-2 regex (tokenizer.json's trailing `|\s+` is not needed: text no alternative matches
# still becomes its own piece).
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"

_LLAMA3 = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")

_QWEN2 = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")

_JAIS2 = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)"
          r"|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}")

# ASCII punctuation followed by ASCII letters, then letters+marks, punctuation/symbols, spaces.
_DEEPSEEK3_MAIN = (r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"""
                   r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+"
                   r"|\s+(?!\S)|\s+")
_SPARK_MAIN = (r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"""
               r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+")

# Han (U+4E00-U+9FA5), Hiragana, Katakana.
_CJK_KANA = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"

# deepseek-llm: the cased letters (Lu/Ll/Lt) of its tokenizer.json, as (first, last) code points.
_DEEPSEEK_CASED_RANGES = (
    (0x41, 0x5A), (0x61, 0x7A), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA),
    (0x1BC, 0x1BF), (0x1C4, 0x293), (0x295, 0x2AF), (0x370, 0x373), (0x376, 0x377),
    (0x37B, 0x37D), (0x37F, 0x37F), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C),
    (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481), (0x48A, 0x52F), (0x531, 0x556),
    (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF),
    (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D),
    (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B),
    (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE),
    (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC),
    (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113),
    (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
    (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149),
    (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE),
    (0x2CF2, 0x2CF3), (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787),
    (0xA78B, 0xA78E), (0xAB70, 0xABBF), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
    (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
)


def _char_class(ranges) -> str:
    """[...] body from (first, last) code point pairs; every range here is letters only, so no
    character needs escaping inside the class."""
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


# Han U+4E00-U+9FA5, U+0800-U+4E00 (as llama.cpp / tokenizer.json write it), Hangul U+AC00-U+D7FF.
_DEEPSEEK_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"

_DEEPSEEK_LLM = (
    r"[\r\n]",
    r"\s?[" + _char_class(_DEEPSEEK_CASED_RANGES) + r"]+",
    # ASCII punctuation, fullwidth forms, quotation marks U+2018-U+201F, U+3000-U+3002.
    r"\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    r"\s+$",
    _DEEPSEEK_CJK,
    r"\p{N}+",
)

_DEEPSEEK_CODER = (r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", _DEEPSEEK_CJK, r"\p{N}")

# youtu: Hangul syllables and jamo | CJK punctuation | Bopomofo | Han and kana.
_YOUTU_CJK = ("[\uac00-\ud7a3\u3131-\u318e]+"
              "|[\uff01\u2026\u201c\u201d\u2018\u2019\u2014\uff1a\uff1b\uff0c\u3001-\u303f"
              "\ufe30-\ufe4f]+"
              "|[\u3105-\u312f]+"
              "|[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+")
_UPPER_THEN_LOWER = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
                     + _CONTRACTIONS + r"?"
                     r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
                     + _CONTRACTIONS + r"?")
_YOUTU_MAIN = (_UPPER_THEN_LOWER + r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_TINY_AYA_MAIN = (_UPPER_THEN_LOWER
                  + r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Upper/lower case runs written with lookaheads (llama.cpp's std::regex has no \p{Lu}).
_TEKKEN = (r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+"
           r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*"
           r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT4O = (r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+" + _CONTRACTIONS + r"?"
          r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*" + _CONTRACTIONS + r"?"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GRANITE_EMB_MULTI = (
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+" + _CONTRACTIONS + r"?"
    r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*" + _CONTRACTIONS + r"?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# bloom / poro / gpt3-finnish / viking: anything but whitespace and (Latin, Devanagari, Urdu,
# Arabic, CJK) sentence punctuation: ellipsis U+2026, U+3002, U+FF0C, U+3001, U+0964, U+06D4, U+060C.
_BLOOM = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"


@dataclass(frozen=True)
class PreTokenizer:
    """One llama.cpp pre-tokenizer type: its regexes and the vocabulary flags it implies."""
    regexes: Tuple[str, ...]
    ignore_merges: bool = False   # a piece that is itself a token is not merged (llama3 etc.)
    add_bos: bool = False         # llama.cpp's default for tokenizer.ggml.add_bos_token
    no_bos: bool = False          # chatglm: no default BOS


_DEFAULT = PreTokenizer((r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"))
_T_LLAMA3 = PreTokenizer((_LLAMA3,), ignore_merges=True, add_bos=True)
_T_LLAMA3_REGEX = PreTokenizer((_LLAMA3,))
_T_GPT2 = PreTokenizer((_GPT2,))
_T_STARCODER = PreTokenizer((r"\p{N}", _GPT2))
_T_QWEN2 = PreTokenizer((_QWEN2,))
_T_BLOOM = PreTokenizer((_BLOOM,))
_T_DEEPSEEK3 = PreTokenizer((r"\p{N}{1,3}", _CJK_KANA, _DEEPSEEK3_MAIN))
_T_GPT4O = PreTokenizer((_GPT4O,))
_T_TINY_AYA = PreTokenizer((r"\d{1,3}(?=(?:\d{3})*\b)", _TINY_AYA_MAIN))
_T_BAILINGMOE = PreTokenizer((
    r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",))

# tokenizer.ggml.pre -> pre-tokenizer, as llama_vocab::impl::load assigns them.
PRE_TOKENIZERS: Dict[str, PreTokenizer] = {
    "default": _DEFAULT,
    **{name: _T_LLAMA3 for name in ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
                                     "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")},
    "dbrx": _T_LLAMA3_REGEX,
    "smaug-bpe": _T_LLAMA3_REGEX,
    "jais-2": PreTokenizer((_JAIS2,)),
    "deepseek-llm": PreTokenizer(_DEEPSEEK_LLM),
    "deepseek-coder": PreTokenizer(_DEEPSEEK_CODER),
    **{name: _T_DEEPSEEK3 for name in ("deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4")},
    "spark2_5": PreTokenizer((r"\p{N}{1,3}", _CJK_KANA, _SPARK_MAIN, r"\p{N}")),
    "youtu": PreTokenizer((_YOUTU_CJK, _YOUTU_MAIN), ignore_merges=True),
    "falcon": PreTokenizer((r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, r"[0-9][0-9][0-9]")),
    **{name: _T_STARCODER for name in ("starcoder", "refact", "command-r", "smollm", "codeshell",
                                        "exaone", "minerva-7b", "mellum2")},
    **{name: _T_GPT2 for name in ("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                                   "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4",
                                   "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo",
                                   "jais", "trillion", "granite-docling")},
    **{name: _T_QWEN2 for name in ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez",
                                    "stablelm2", "hunyuan", "solar-open", "grok-2")},
    "qwen35": PreTokenizer((
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+",)),
    **{name: _T_BLOOM for name in ("poro-chat", "bloom", "gpt3-finnish")},
    "glm4": PreTokenizer((_LLAMA3,), no_bos=True),
    "chatglm-bpe": PreTokenizer((_LLAMA3,), no_bos=True),
    "viking": PreTokenizer((_BLOOM, r"\p{N}")),
    "tekken": PreTokenizer((_TEKKEN,), ignore_merges=True, add_bos=True),
    "chameleon": PreTokenizer((
        r"<sentinel:[0-9]+>",                      # sentinel tokens
        r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",   # image tokens
        r"([\t\n]|    |  )",
        r"\p{N}",
        r"[\p{P}!-/:-@\[-`{-~]",
        _GPT2,
    ), add_bos=True),
    **{name: _T_GPT4O for name in ("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2")},
    "granite-embed-multi-97m": PreTokenizer((_GRANITE_EMB_MULTI,), ignore_merges=True),
    "tiny_aya": _T_TINY_AYA,
    "cohere2moe": _T_TINY_AYA,
    "superbpe": PreTokenizer((r"\p{N}+", r"(?=(\d{3})+(?!\d))")),
    **{name: _T_BAILINGMOE for name in ("bailingmoe", "bailingmoe2", "llada-moe")},
    "seed-coder": PreTokenizer((
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+",)),
    "ufakzeka": PreTokenizer((
        r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",)),
    "laguna": PreTokenizer((r"[^\n]+|[\n]+", _QWEN2)),
    "exaone-moe": PreTokenizer((
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",)),
    "minicpm5": PreTokenizer((
        r"\p{N}{1,3}",
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+",
    ), ignore_merges=True),
}

# Names llama.cpp knows but handles with code, not regexes (or without byte-level encoding).
UNSUPPORTED_PRE: Dict[str, str] = {
    "kimi-k2": "a custom Han-aware splitter",
    "afmoe": "a custom digit-grouping splitter",
    "gemma4": "SentencePiece-style BPE without byte-level encoding",
    "granite-embed-multi-311m": "SentencePiece-style BPE without byte-level encoding",
    "sarvam-moe": "SentencePiece-style BPE without byte-level encoding",
    "whitespace": "a whitespace splitter without byte-level encoding",
}


def lookup(pre: Optional[str]) -> PreTokenizer:
    """The pre-tokenizer of a `tokenizer.ggml.pre` value; an unknown name is a ValueError.
    (A missing value means "default", as in llama.cpp, which warns about degraded quality.)"""
    name = "default" if pre is None or pre == "" else pre
    found = PRE_TOKENIZERS.get(name)
    if found is not None:
        return found
    if name in UNSUPPORTED_PRE:
        raise ValueError(f"tokenizer.ggml.pre '{name}' is not supported: llama.cpp tokenizes it "
                         f"with {UNSUPPORTED_PRE[name]}")
    raise ValueError(f"unknown tokenizer.ggml.pre '{name}': no pre-tokenizer is defined for it "
                     f"(known: {', '.join(sorted(PRE_TOKENIZERS))})")
