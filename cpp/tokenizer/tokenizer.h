// Tokenizer of a GGUF vocabulary, matching llama.cpp's llama_tokenize / llama_detokenize and
// python/edgeq/tokenizer.py (the same special-token rules, the same decoded bytes):
//   "llama" SentencePiece: llama.cpp's llm_tokenizer_spm (bigram merges by score, byte fallback
//           <0xXX>), with the dummy-prefix space before every text fragment that starts the text
//           or follows a special token (add_space_prefix).
//   "gpt2"  byte-level BPE: the pre-tokenizer of `tokenizer.ggml.pre` (pretokenize.h), then
//           merges by rank (llama.cpp's llm_tokenizer_bpe).
// Before either, the text is split at special tokens (llama.cpp's tokenizer_st_partition):
// USER_DEFINED tokens always, CONTROL / UNKNOWN only with parse_special.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/pretokenize.h"

namespace edgeq {

// llama.cpp's llama_token_type, the values of tokenizer.ggml.token_type.
enum TokenType : int8_t {
    kTokenUndefined = 0, kTokenNormal = 1, kTokenUnknown = 2, kTokenControl = 3, kTokenUserDefined = 4,
    kTokenUnused = 5, kTokenByte = 6,
};

// The key of a BPE merge (left, right) in Tokenizer's rank table: unambiguous for any bytes.
std::string merge_key(std::string_view left, std::string_view right);

class Tokenizer {
public:
    // Builds the tokenizer from g's tokenizer.ggml.* metadata. Throws GgufError naming the file
    // and the problem (e.g. an unsupported pre-tokenizer, naming the supported ones).
    explicit Tokenizer(const GgufFile& g);

    // Token ids of UTF-8 text, like llama_tokenize(text, add_special, parse_special): add_special
    // adds BOS / EOS when the vocabulary asks for them; parse_special turns the text of CONTROL
    // tokens ("<|im_start|>") into those tokens. Invalid UTF-8 is read as U+FFFD (BPE) or as
    // byte-fallback tokens (SentencePiece), as llama.cpp does.
    std::vector<int32_t> encode(const std::string& text, bool add_special, bool parse_special) const;

    // The raw bytes a token stands for (special tokens: their text; UNUSED: nothing). Throws
    // std::out_of_range for an id outside the vocabulary.
    const std::string& token_to_bytes(int32_t id) const;

    // Bytes of token ids (python/edgeq/tokenizer.py decode): skip_special leaves out CONTROL /
    // UNKNOWN tokens; for SentencePiece with add_space_prefix the space the encoder put before
    // each text fragment is removed again. May end inside a UTF-8 character.
    std::string decode(const int32_t* ids, size_t n, bool skip_special) const;

    int32_t n_vocab() const { return (int32_t)tokens_.size(); }
    const std::string& model() const { return model_; }  // "llama" or "gpt2"
    const std::string& pre() const { return pre_; }      // tokenizer.ggml.pre ("" for llama)
    TokenType token_type(int32_t id) const { return types_.at((size_t)id); }
    const std::string& piece(int32_t id) const { return tokens_.at((size_t)id); }  // text as stored
    int32_t token_id(const std::string& piece) const;  // -1 if not a token
    int32_t bos_id() const { return bos_; }  // -1: none
    int32_t eos_id() const { return eos_; }
    int32_t eot_id() const { return eot_; }
    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }
    // End-of-generation tokens: EOS, EOT, EOM and the other end markers llama.cpp detects.
    const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
    bool is_stop(int32_t id) const;

private:
    struct Fragment {
        std::string text;    // text to tokenize, when id < 0
        int32_t id = -1;     // a special token
    };
    std::vector<Fragment> partition(const std::string& text, bool parse_special) const;
    void encode_spm(const std::string& text, std::vector<int32_t>& out) const;
    void encode_bpe(const std::string& text, std::vector<int32_t>& out) const;
    int rank(const std::string& left, const std::string& right) const;  // -1: no merge
    int32_t find(const std::string& text) const { return token_id(text); }
    std::string piece_bytes(int32_t id) const;

    std::string model_, pre_;
    PreTokenizerSpec pre_spec_;
    std::vector<std::string> tokens_;
    std::vector<TokenType> types_;
    std::vector<float> scores_;
    std::unordered_map<std::string, int32_t> token_to_id_;
    std::unordered_map<std::string, int> merge_rank_;  // key: merge_key(left, right)
    std::vector<std::string> bytes_;                     // token_to_bytes of every id
    struct Special {
        int32_t id;
        bool rstrip;  // swallow the ASCII whitespace after it (phi-3)
    };
    std::vector<Special> partition_all_, partition_user_;  // longest text first
    std::vector<int32_t> stop_ids_;
    int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1;
    bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
};

}  // namespace edgeq
