"""Tokenizer built from GGUF metadata, matching llama.cpp's `llama_tokenize` / `llama_detokenize`.

Two vocabulary kinds (`tokenizer.ggml.model`):
  "gpt2"  byte-level BPE. A Hugging Face `tokenizers` BPE model over the GGUF tokens and merges,
          with the pre-tokenizer regexes llama.cpp assigns to `tokenizer.ggml.pre`
          (edgeq.pretokenizers) followed by the GPT-2 byte-to-unicode mapping.
  "llama" SentencePiece BPE with byte fallback. A `sentencepiece` ModelProto is serialized here
          from the GGUF pieces, scores and types (no protobuf dependency).
No BPE is written by hand: the libraries do the merging.

What is done here, as llama.cpp does it (src/llama-vocab.cpp):
  * special-token partition: before BPE, the text is split at occurrences of CONTROL, UNKNOWN and
    USER_DEFINED tokens, longest token first. USER_DEFINED tokens are always split out;
    CONTROL / UNKNOWN only with parse_special=True (otherwise "<|im_start|>" is plain text).
  * SentencePiece dummy prefix: with add_space_prefix, a space is put in front of every text
    fragment that starts the text or follows a special token (sentencepiece's own
    add_dummy_prefix would only do the first, so it is off in the ModelProto).
  * BOS / EOS (add_special), the default special ids, EOT / EOG detection by token text.
  * decoding: bytes of every piece (byte-level mapping undone, "▁" -> " ", <0xNN> -> byte),
    CONTROL / UNKNOWN tokens as their text unless skipped, UNUSED tokens as nothing.

Deliberate differences from llama.cpp's detokenizer: it drops one leading space from the first
piece only; here the dummy-prefix space is dropped from the first text piece after the start or a
special token (the exact inverse of the encoder, so decode(encode(t)) == t also with specials),
and only for SentencePiece vocabularies (BPE encoding adds no prefix). llama.cpp's
`clean_spaces` clean-up (" ," -> ",", for some BPE pre types) is not applied: it breaks the round
trip and the streamed text.
"""
from __future__ import annotations

import codecs
import json
import os
import struct
import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from . import pretokenizers

# llama.cpp's llama_token_type, the values of tokenizer.ggml.token_type.
UNDEFINED, NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = range(7)
_SPECIAL_TYPES = (CONTROL, UNKNOWN, USER_DEFINED)  # split out of the text before BPE

_SPM_SPACE = "\u2581"  # "▁": SentencePiece's escaped space

# Text-detected special tokens, in llama.cpp's lists (the first name present in the vocabulary
# wins; llama.cpp takes whichever its hash map yields first).
_EOT_NAMES = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
              "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\uff5cend\u2581of\u2581sentence\uff5c>",
              "<end_of_utterance>")
_EOM_NAMES = ("<|eom_id|>",)
_FIM_PAD_NAMES = ("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]")
_FIM_REP_NAMES = ("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>")
_FIM_SEP_NAMES = ("<|file_sep|>",)
# Every token with one of these texts ends generation.
_EOG_NAMES = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
              "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>",
              "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
              "<|tool_response>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "[e~[")
# gpt-oss: always rendered, user-defined.
_FORCE_USER_DEFINED = ("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")

_ASCII_SPACE = " \t\n\v\f\r"  # C isspace(), used by llama.cpp's lstrip / rstrip


def _gpt2_byte_table() -> List[str]:
    """GPT-2's byte -> printable character map: printable Latin-1 bytes stand for themselves,
    the other 68 bytes (controls, space, 0x7F-0xA0, soft hyphen) take U+0100 onwards in order."""
    table = [""] * 256
    extra = 0
    for b in range(256):
        if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


_BYTE_TO_CHAR = _gpt2_byte_table()
_CHAR_TO_BYTE: Dict[str, int] = {c: b for b, c in enumerate(_BYTE_TO_CHAR)}


# ---- sentencepiece ModelProto, serialized by hand --------------------------------------------
# Field numbers from sentencepiece_model.proto:
#   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
#                    NormalizerSpec normalizer_spec = 3; }
#   SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
#                    (Type: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6)
#   TrainerSpec    { ModelType model_type = 3 (BPE = 2); int32 vocab_size = 4;
#                    bool byte_fallback = 35; int32 unk_id = 40; }
#   NormalizerSpec { string name = 1; bool add_dummy_prefix = 3; bool remove_extra_whitespaces = 4;
#                    bool escape_whitespaces = 5; }

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _field_bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _utf8_pieces(tokens: Sequence[str]) -> Tuple[bytes, np.ndarray]:
    """All tokens as one UTF-8 byte string and the byte length of each (vectorized: the byte
    offset of a token is the offset of its first character among the non-continuation bytes)."""
    joined = "".join(tokens)
    try:
        data = joined.encode("utf-8")
    except UnicodeEncodeError:  # surrogate-escaped bytes: one by one
        parts = [t.encode("utf-8", "surrogateescape") for t in tokens]
        return b"".join(parts), np.fromiter(map(len, parts), np.int64, len(parts))
    u8 = np.frombuffer(data, np.uint8)
    char_starts = np.append(np.flatnonzero((u8 & 0xC0) != 0x80), len(data))
    char_lens = np.fromiter(map(len, tokens), np.int64, len(tokens))
    byte_offsets = char_starts[np.concatenate(([0], np.cumsum(char_lens)))]
    return data, np.diff(byte_offsets)


def _spm_pieces(data: bytes, lens: np.ndarray, scores: np.ndarray, types: np.ndarray) -> bytes:
    """The repeated ModelProto.pieces field. Each token is
        0x0a L | 0x0a n <n piece bytes> | 0x15 <float32 score> | 0x18 <type>     (L = n + 9)
    i.e. field 1 (length-delimited) holding SentencePiece{piece = 1, score = 2 (fixed32),
    type = 3 (varint)}. Written with numpy when every length fits one varint byte
    (n <= 118); otherwise record by record."""
    count = len(lens)
    if count and int(lens.max()) > 118:
        short = [bytes((i,)) for i in range(128)]
        pack_score = struct.Struct("<f").pack
        out, pos = [], 0
        for n, score, ptype in zip(lens.tolist(), scores.tolist(), types.tolist()):
            piece = data[pos:pos + n]
            pos += n
            body = b"".join((b"\x0a", short[n] if n < 128 else _varint(n), piece,
                             b"\x15", pack_score(score), b"\x18", short[ptype]))
            out.append(_field_bytes(1, body))
        return b"".join(out)
    rec = lens + 11
    start = np.concatenate(([0], np.cumsum(rec)[:-1]))
    out = np.empty(int(rec.sum()), np.uint8)
    out[start] = 0x0A
    out[start + 1] = lens + 9
    out[start + 2] = 0x0A
    out[start + 3] = lens
    # piece bytes: token i's bytes go to start[i] + 4 onwards
    piece_start = np.concatenate(([0], np.cumsum(lens)[:-1]))
    out[np.repeat(start + 4 - piece_start, lens) + np.arange(len(data))] = np.frombuffer(data, np.uint8)
    tail = start + 4 + lens
    out[tail] = 0x15
    score_bytes = np.ascontiguousarray(scores, dtype="<f4").view(np.uint8).reshape(count, 4)
    for k in range(4):
        out[tail + 1 + k] = score_bytes[:, k]
    out[tail + 5] = 0x18
    out[tail + 6] = types
    return out.tobytes()


def _spm_model_proto(pieces: bytes, lens: np.ndarray, scores: np.ndarray, types: np.ndarray,
                     unk_id: int, byte_fallback: bool) -> bytes:
    out = [_spm_pieces(pieces, lens, scores, types)]
    trainer = (_field_varint(3, 2) + _field_varint(4, len(pieces))
               + _field_varint(35, int(byte_fallback)) + _field_varint(40, unk_id))
    normalizer = (_field_bytes(1, b"identity") + _field_varint(3, 0) + _field_varint(4, 0)
                  + _field_varint(5, 1))
    out.append(_field_bytes(2, trainer))
    out.append(_field_bytes(3, normalizer))
    return b"".join(out)


# ---- Hugging Face tokenizers JSON ---------------------------------------------------------------

def _hf_bpe_json(vocab: Dict[str, int], merges: list, pre: pretokenizers.PreTokenizer) -> str:
    """tokenizer.json text for a byte-level BPE without added tokens (special tokens are split out
    before the text reaches it). Building from JSON is the fastest way into `tokenizers`."""
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    splits = [{"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False}
              for r in pre.regexes]
    spec = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": splits + [byte_level]},
        "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": pre.ignore_merges, "vocab": vocab, "merges": merges},
    }
    return json.dumps(spec, ensure_ascii=False)


def _split_merge(merge: str):
    """llama.cpp splits a merge at the first space after position 0."""
    pos = merge.find(" ", 1)
    return (merge[:pos], merge[pos + 1:]) if pos >= 0 else None


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


class StreamDecoder:
    """Incremental detokenizer: push(id) returns the text that is complete so far. Bytes of an
    unfinished UTF-8 character wait for the next token; bytes that can never form a character
    come out as U+FFFD at once, an unfinished tail at flush(). No dummy-prefix space is removed
    (the pieces continue a prompt), as llama.cpp's token_to_piece."""

    def __init__(self, tokenizer: "Tokenizer", skip_special: bool = False):
        self._tokenizer = tokenizer
        self._skip_special = skip_special
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def push(self, token_id: int) -> str:
        tok = self._tokenizer
        if self._skip_special and tok.token_type(token_id) in (CONTROL, UNKNOWN):
            return ""
        return self._decoder.decode(tok.token_to_bytes(token_id), final=False)

    def flush(self) -> str:
        text = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return text


class Tokenizer:
    """Tokenizer of a GGUF vocabulary. Build with from_gguf(path) or from_metadata(dict)."""

    n_vocab: int
    bos_id: Optional[int]
    eos_id: Optional[int]
    eot_id: Optional[int]
    eom_id: Optional[int]
    unk_id: Optional[int]
    add_bos: bool
    add_eos: bool
    stop_ids: Set[int]

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, path: "str | os.PathLike[str]") -> "Tokenizer":
        from .gguf import open_gguf
        with open_gguf(path) as f:
            return cls.from_metadata(f.metadata)

    @classmethod
    def from_metadata(cls, metadata: dict) -> "Tokenizer":
        return cls(metadata)

    def __init__(self, metadata: dict):
        md = metadata
        model = md.get("tokenizer.ggml.model")
        if model not in ("gpt2", "llama"):
            raise ValueError(f"unsupported tokenizer.ggml.model {model!r} "
                             f"(supported: 'gpt2' byte-level BPE, 'llama' SentencePiece)")
        self.model = model
        self.pre = md.get("tokenizer.ggml.pre") if model == "gpt2" else None
        pre = pretokenizers.lookup(self.pre) if model == "gpt2" else None
        if model == "gpt2" and not self.pre:
            warnings.warn("GGUF has no tokenizer.ggml.pre: using the 'default' pre-tokenizer, as "
                          "llama.cpp does (generation quality may suffer)", stacklevel=3)

        tokens = md.get("tokenizer.ggml.tokens")
        if not isinstance(tokens, list) or not tokens:
            raise ValueError("GGUF metadata has no tokenizer.ggml.tokens string array")
        n = len(tokens)
        # llama.cpp names empty tokens so that every id has a distinct text.
        if not all(tokens):
            tokens = [t if t else f"[EMPTY_{i}]" for i, t in enumerate(tokens)]
        self._tokens: List[str] = tokens
        self.n_vocab = n
        token_to_id = dict(zip(tokens, range(n)))
        if len(token_to_id) != n:
            seen: Dict[str, int] = {}
            for i, t in enumerate(tokens):
                if t in seen:
                    raise ValueError(f"duplicate token in vocabulary: {t!r} has ids {seen[t]} and {i}")
                seen[t] = i
        self._token_to_id = token_to_id

        # Token types as an int8 array while the fix-ups below run; a list for lookups after.
        raw_types = md.get("tokenizer.ggml.token_type")
        if raw_types is None:
            types = np.full(n, NORMAL, np.int8)
        else:
            if len(raw_types) < n:
                raise ValueError(f"tokenizer.ggml.token_type has {len(raw_types)} entries for {n} tokens")
            raw = np.asarray(raw_types[:n], dtype=np.int64)
            types = np.where((raw >= 0) & (raw <= BYTE), raw, UNDEFINED).astype(np.int8)

        # -- flags and default special ids, as llama_vocab::impl::load sets them --
        if model == "llama":
            add_space_prefix, add_bos, bos, eos, unk = True, True, 1, 2, 0
        else:
            add_space_prefix, add_bos, bos, eos, unk = False, pre.add_bos, 11, 11, None
            if pre.no_bos:
                bos = None
        add_space_prefix = bool(md.get("tokenizer.ggml.add_space_prefix", add_space_prefix))
        self.add_space_prefix = add_space_prefix

        def special(key: str, default: Optional[int]) -> Optional[int]:
            if default is not None and not 0 <= default < n:
                default = None  # a default outside the vocabulary is disabled
            value = md.get(f"tokenizer.ggml.{key}")
            if value is None:
                return default
            value = int(value)
            if not 0 <= value < n:
                warnings.warn(f"tokenizer.ggml.{key} = {value} is outside the vocabulary of {n} "
                              f"tokens; using {default}", stacklevel=4)
                return default
            return value

        self.bos_id = special("bos_token_id", bos)
        self.eos_id = special("eos_token_id", eos)
        self.unk_id = special("unknown_token_id", unk)
        eot = special("eot_token_id", None)
        eom = special("eom_token_id", None)
        fim_pad = special("fim_pad_token_id", None)
        fim_rep = special("fim_rep_token_id", None)
        fim_sep = special("fim_sep_token_id", None)

        self.add_bos = bool(md.get("tokenizer.ggml.add_bos_token", add_bos))
        self.add_eos = bool(md.get("tokenizer.ggml.add_eos_token", False))
        if self.add_bos and self.bos_id is None:
            raise ValueError("tokenizer.ggml.add_bos_token is true, but the vocabulary has no BOS token")
        if self.add_eos and self.eos_id is None:
            raise ValueError("tokenizer.ggml.add_eos_token is true, but the vocabulary has no EOS token")

        # -- special tokens found by their text; such tokens become CONTROL --
        def find(names: Iterable[str]) -> Optional[int]:
            for name in names:
                tid = token_to_id.get(name)
                if tid is not None:
                    if types[tid] != CONTROL:
                        types[tid] = CONTROL
                    return tid
            return None

        if eot is None:
            eot = find(_EOT_NAMES)
        if eom is None:
            eom = find(_EOM_NAMES)
        if fim_pad is None:
            fim_pad = find(_FIM_PAD_NAMES)
        if fim_rep is None:
            fim_rep = find(_FIM_REP_NAMES)
        if fim_sep is None:
            fim_sep = find(_FIM_SEP_NAMES)
        self.eot_id, self.eom_id = eot, eom

        eog = {i for i in (fim_pad, fim_rep, fim_sep) if i is not None}
        for name in _EOG_NAMES:
            tid = token_to_id.get(name)
            if tid is not None:
                eog.add(tid)
                types[tid] = CONTROL
        for name in _FORCE_USER_DEFINED:
            tid = token_to_id.get(name)
            if tid is not None:
                types[tid] = USER_DEFINED
        eog.update(i for i in (self.eos_id, eot, eom) if i is not None)
        by_text = {tokens[i]: i for i in eog}
        # gpt-oss / solar-open: "<|end|>" ends a message, not the generation.
        if "<|end|>" in by_text and (("<|return|>" in by_text and "<|call|>" in by_text)
                                     or ("<|calls|>" in by_text and "<|flush|>" in by_text)):
            eog.discard(by_text["<|end|>"])
            types[by_text["<|end|>"]] = USER_DEFINED
        # gemma4 / paddleocr: "</s>" is an ordinary token there.
        if "<|tool_response>" in by_text and "</s>" in by_text:
            eog.discard(by_text["</s>"])
            types[by_text["</s>"]] = NORMAL
        self.stop_ids = eog

        # -- special-token partition table: longest text first (llama.cpp sorts by byte length) --
        name = str(md.get("general.name", "")).lower()
        rstrip_all = "phi-3" in name or "phi3" in name  # llama.cpp's per-model attribute fix-up
        self._types: List[int] = types.tolist()
        specials = np.flatnonzero(np.isin(types, _SPECIAL_TYPES)).tolist()
        specials.sort(key=lambda i: -len(tokens[i].encode("utf-8", "surrogateescape")))
        self._partition_all = []
        for i in specials:
            rstrip = rstrip_all and tokens[i] not in ("<unk>", "<s>", "<|endoftext|>")
            if rstrip_all and tokens[i] == "</s>":
                rstrip = True
            self._partition_all.append((tokens[i], i, rstrip))
        self._partition_user = [s for s in self._partition_all if types[s[1]] == USER_DEFINED]

        self._bytes_cache: List[Optional[bytes]] = [None] * n
        if model == "gpt2":
            self._build_bpe(md, pre)
        else:
            self._build_spm(md, types)

    def _build_bpe(self, md: dict, pre: pretokenizers.PreTokenizer) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        merges = md.get("tokenizer.ggml.merges")
        if not isinstance(merges, list):
            raise ValueError("gpt2 vocabulary without tokenizer.ggml.merges")
        tokens = self._tokens
        vocab = self._token_to_id
        try:
            text = _hf_bpe_json(vocab, merges, pre)
            text.encode("utf-8")
            self._hf = HFTokenizer.from_str(text)
            return
        except (Exception, UnicodeEncodeError):
            pass  # slow path below: odd merges or non-UTF-8 tokens
        # Tokens that are not valid UTF-8 cannot enter `tokenizers`; byte-level BPE never
        # produces them, so a placeholder keeps their id. Merges the library cannot represent
        # (a part or the result missing from the vocabulary) are left out.
        placeholder = {t: f"\ue000<edgeq invalid utf-8 token {i}>" for i, t in enumerate(tokens)
                       if _has_surrogates(t)}
        vocab = {placeholder.get(t, t): i for t, i in vocab.items()}
        pairs = []
        for m in merges:
            ab = _split_merge(m)
            if ab is None:
                continue
            a, b = ab
            if a in vocab and b in vocab and (a + b) in vocab:
                pairs.append([a, b])
        try:
            self._hf = HFTokenizer.from_str(_hf_bpe_json(vocab, pairs, pre))
        except Exception as e:
            raise ValueError(f"cannot build the BPE tokenizer for pre '{self.pre}': {e}") from None

    def _build_spm(self, md: dict, types: np.ndarray) -> None:
        import sentencepiece

        n = self.n_vocab
        scores = md.get("tokenizer.ggml.scores")
        if scores is None:
            scores = np.zeros(n, np.float32)
        elif len(scores) < n:
            raise ValueError(f"tokenizer.ggml.scores has {len(scores)} entries for {n} tokens")
        else:
            scores = np.asarray(scores[:n], dtype=np.float32)
        # sentencepiece needs a valid type for every piece and an UNKNOWN piece.
        sp_types = np.where(types == UNDEFINED, NORMAL, types).astype(np.uint8)
        unknowns = np.flatnonzero(sp_types == UNKNOWN)
        if len(unknowns):
            unk = int(unknowns[0])
        else:
            if self.unk_id is None:
                raise ValueError("SentencePiece vocabulary without an unknown token")
            unk = self.unk_id
            sp_types[unk] = UNKNOWN
        data, lens = _utf8_pieces(self._tokens)
        byte_fallback = bool((sp_types == BYTE).any())
        proto = _spm_model_proto(data, lens, scores, sp_types, unk, byte_fallback)
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_proto=proto)
        except Exception as e:
            raise ValueError(f"cannot build the SentencePiece tokenizer: {e}") from None

    # ---- vocabulary ----------------------------------------------------------------------
    def piece(self, token_id: int) -> str:
        """The token's text as stored in the GGUF (byte-level characters, "▁", "<0x0A>" ...)."""
        return self._tokens[token_id]

    def token_type(self, token_id: int) -> int:
        """llama.cpp token type (NORMAL, CONTROL, ...) after its text-based fix-ups."""
        return self._types[token_id]

    def token_id(self, piece: str) -> Optional[int]:
        """The id of a token text, or None."""
        return self._token_to_id.get(piece)

    def token_to_bytes(self, token_id: int) -> bytes:
        """The raw bytes a token stands for (CONTROL tokens: their text; UNUSED: nothing)."""
        if not 0 <= token_id < self.n_vocab:
            raise ValueError(f"token id {token_id} is outside the vocabulary of {self.n_vocab} tokens")
        cached = self._bytes_cache[token_id]
        if cached is None:
            cached = self._piece_bytes(token_id)
            self._bytes_cache[token_id] = cached
        return cached

    def _piece_bytes(self, token_id: int) -> bytes:
        text = self._tokens[token_id]
        ttype = self._types[token_id]
        if ttype in _SPECIAL_TYPES:
            return text.encode("utf-8", "surrogateescape")
        if ttype == NORMAL:
            if self.model == "llama":
                return text.replace(_SPM_SPACE, " ").encode("utf-8", "surrogateescape")
            to_byte = _CHAR_TO_BYTE
            if all(c in to_byte for c in text):
                return bytes(to_byte[c] for c in text)
            # A character outside the byte-level alphabet stands for itself.
            return b"".join(bytes((to_byte[c],)) if c in to_byte
                            else c.encode("utf-8", "surrogateescape") for c in text)
        if ttype == BYTE:
            # llama.cpp reads the two hex digits of "<0xNN>".
            try:
                return bytes((int(text[3:5], 16),))
            except ValueError:
                return b""
        return b""  # UNUSED / UNDEFINED: rendered as nothing, as llama.cpp does

    # ---- encoding ------------------------------------------------------------------------
    def _partition(self, text: str, parse_special: bool) -> List[Union[str, int]]:
        """Split text at special tokens (llama.cpp's tokenizer_st_partition): returns text
        fragments (str) and token ids (int) in order."""
        frags: List[Union[str, int]] = [text]
        table = self._partition_all if parse_special else self._partition_user
        for ttext, tid, rstrip in table:
            if ttext not in text:
                continue
            out: List[Union[str, int]] = []
            for frag in frags:
                if not isinstance(frag, str) or ttext not in frag:
                    out.append(frag)
                    continue
                pos = 0
                while True:
                    hit = frag.find(ttext, pos)
                    if hit < 0:
                        break
                    if hit > pos:
                        out.append(frag[pos:hit])
                    out.append(tid)
                    pos = hit + len(ttext)
                    if rstrip:
                        while pos < len(frag) and frag[pos] in _ASCII_SPACE:
                            pos += 1
                if pos < len(frag):
                    out.append(frag[pos:])
            frags = out
        return frags

    def encode(self, text: str, add_special: bool = True, parse_special: bool = False) -> List[int]:
        """Token ids of text, like llama_tokenize(text, add_special, parse_special):
        add_special adds BOS / EOS when the vocabulary asks for them (add_bos / add_eos);
        parse_special turns the text of CONTROL tokens ("<|im_start|>") into those tokens."""
        ids: List[int] = []
        if add_special and self.add_bos:
            ids.append(self.bos_id)
        frags = self._partition(text, parse_special) if text else []
        if self.model == "llama":
            prev_special = True  # the dummy-prefix space goes before the first text fragment
            for frag in frags:
                if isinstance(frag, str):
                    if self.add_space_prefix and prev_special:
                        frag = " " + frag
                    ids.extend(self._sp.encode(frag))
                    prev_special = False
                else:
                    ids.append(frag)
                    prev_special = True
        else:
            for frag in frags:
                if isinstance(frag, str):
                    ids.extend(self._hf.encode(frag, add_special_tokens=False).ids)
                else:
                    ids.append(frag)
        if add_special and self.add_eos:
            ids.append(self.eos_id)
        return ids

    # ---- decoding ------------------------------------------------------------------------
    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """Text of token ids. skip_special leaves out CONTROL / UNKNOWN tokens (BOS, EOS,
        <|im_end|> ...). For SentencePiece vocabularies with add_space_prefix, the space the
        encoder put before each text fragment is removed again, so that
        decode(encode(t, add_special=False)) == t."""
        strip_prefix = self.model == "llama" and self.add_space_prefix
        types = self._types
        parts = []
        prev_special = True
        for tid in ids:
            tid = int(tid)
            data = self.token_to_bytes(tid)  # checks the range
            ttype = types[tid]
            if skip_special and ttype in (CONTROL, UNKNOWN):
                data = b""
            is_special = ttype in _SPECIAL_TYPES
            if strip_prefix and prev_special and not is_special and data[:1] == b" ":
                data = data[1:]
            prev_special = is_special
            parts.append(data)
        return b"".join(parts).decode("utf-8", "replace")

    def stream_decoder(self, skip_special: bool = False) -> StreamDecoder:
        """A StreamDecoder for text produced one token at a time."""
        return StreamDecoder(self, skip_special)

    def __repr__(self) -> str:
        kind = f"gpt2/{self.pre or 'default'}" if self.model == "gpt2" else "llama/spm"
        return (f"Tokenizer({kind}, n_vocab={self.n_vocab}, bos={self.bos_id}, eos={self.eos_id}, "
                f"eot={self.eot_id}, add_bos={self.add_bos})")
