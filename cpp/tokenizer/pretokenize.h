// Pre-tokenizers of byte-level BPE vocabularies (`tokenizer.ggml.pre`): the text is split into
// words by a sequence of rules (each splits every piece the previous one made; a match and the
// text between matches both become pieces), then every word is mapped to GPT-2's byte alphabet.
// The rules are hand-written splitters equal to llama.cpp's (src/unicode.cpp) for the regexes
// of python/edgeq/pretokenizers.py:
//   Gpt2       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama3     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//              | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   EachDigit  \p{N}   (every number character alone: starcoder / smollm)
#pragma once
#include <string>
#include <vector>

namespace edgeq {

enum class SplitRule { Gpt2, Llama3, EachDigit };

struct PreTokenizerSpec {
    std::vector<SplitRule> rules;
    bool ignore_merges = false;  // a word that is itself a token is not merged (llama3)
    bool add_bos = false;        // llama.cpp's default for tokenizer.ggml.add_bos_token
};

// The spec of a `tokenizer.ggml.pre` name, or nullptr if edgeq's C++ tokenizer has none.
const PreTokenizerSpec* find_pretokenizer(const std::string& name);
std::string supported_pretokenizers();  // the names, sorted, comma-separated

// Words of UTF-8 text (invalid bytes become U+FFFD), each in GPT-2's byte alphabet.
std::vector<std::string> pretokenize(const std::string& text, const PreTokenizerSpec& spec);

}  // namespace edgeq
