// Vocabulary loading (llama_vocab::impl::load's rules, as python/edgeq/tokenizer.py applies
// them), the special-token partition, and decoding. The merge algorithms are in
// tokenizer_spm.cpp and tokenizer_bpe.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace edgeq {

namespace {

const char kSpmSpace[] = "\xE2\x96\x81";  // "▁" U+2581: SentencePiece's escaped space

// Text-detected special tokens, in llama.cpp's lists (the first name present wins).
const char* const kEotNames[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                 "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                 "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
                                 "<end_of_utterance>"};
const char* const kEomNames[] = {"<|eom_id|>"};
const char* const kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const char* const kFimRepNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
const char* const kFimSepNames[] = {"<|file_sep|>"};
// Every token with one of these texts ends generation.
const char* const kEogNames[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                 "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                 "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                 "<turn|>", "<|tool_response>",
                                 "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", "[e~["};
// gpt-oss: always rendered, user-defined.
const char* const kForceUserDefined[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

}  // namespace

std::string merge_key(std::string_view left, std::string_view right) {
    std::string key = std::to_string(left.size());
    key += ':';
    key += left;
    key += right;
    return key;
}

namespace {

bool is_special_type(TokenType t) { return t == kTokenControl || t == kTokenUnknown || t == kTokenUserDefined; }
bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string lower_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    return s;
}

// Metadata readers that name the key in their errors.
const GgufValue* array_of(const GgufFile& g, const std::string& key, GgufType elem, const char* what) {
    const GgufValue* v = g.find(key);
    if (!v) return nullptr;
    const bool ok = v->type == GgufType::ARRAY &&
                    (elem == GgufType::STRING ? v->elem == GgufType::STRING : v->elem_is_number());
    if (!ok) g.fail("metadata '" + key + "' must be an array of " + what);
    return v;
}

bool meta_bool(const GgufFile& g, const std::string& key, bool def) {
    const GgufValue* v = g.find(key);
    if (!v) return def;
    if (v->type == GgufType::BOOL || v->is_int()) return v->u != 0;
    g.fail("metadata '" + key + "' must be a bool");
}

// A token id from metadata: absent -> def; outside the vocabulary -> def (python warns there).
int32_t meta_id(const GgufFile& g, const std::string& key, int32_t def, int32_t n) {
    if (def >= n) def = -1;  // a default outside the vocabulary is disabled
    const GgufValue* v = g.find(key);
    if (!v) return def;
    int64_t id;
    if (v->is_int() || v->type == GgufType::BOOL) id = v->type == GgufType::U64 && v->u > INT64_MAX ? -1 : v->i;
    else if (v->is_float()) id = (int64_t)v->f;
    else g.fail("metadata '" + key + "' must be a token id");
    return (id >= 0 && id < n) ? (int32_t)id : def;
}

}  // namespace

Tokenizer::Tokenizer(const GgufFile& g) {
    const GgufValue* model = g.find("tokenizer.ggml.model");
    model_ = model && model->type == GgufType::STRING ? std::string(model->str) : std::string();
    if (model_ != "gpt2" && model_ != "llama")
        g.unsupported("unsupported tokenizer.ggml.model " + (model ? "'" + model_ + "'" : std::string("(missing)")) +
               " (supported: 'gpt2' byte-level BPE, 'llama' SentencePiece)");
    if (model_ == "gpt2") {
        const GgufValue* pre = g.find("tokenizer.ggml.pre");
        pre_ = pre && pre->type == GgufType::STRING ? std::string(pre->str) : std::string();
        const PreTokenizerSpec* spec = find_pretokenizer(pre_);
        if (!spec)
            g.unsupported("tokenizer.ggml.pre '" + (pre_.empty() ? std::string("default") : pre_) +
                   "' is not supported by the C++ tokenizer (supported: " + supported_pretokenizers() + ")");
        pre_spec_ = *spec;
    }

    const GgufValue* tokens = array_of(g, "tokenizer.ggml.tokens", GgufType::STRING, "strings");
    if (!tokens || tokens->count == 0) g.fail("no tokenizer.ggml.tokens string array");
    if (tokens->count >= (uint64_t(1) << 31)) g.fail("tokenizer.ggml.tokens is too large");
    const int32_t n = (int32_t)tokens->count;
    tokens_.reserve(n);
    token_to_id_.reserve(n);
    for (int32_t i = 0; i < n; i++) {
        // llama.cpp names empty tokens so that every id has a distinct text.
        std::string t = tokens->strings[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(tokens->strings[i]);
        auto ins = token_to_id_.emplace(t, i);
        if (!ins.second)
            g.fail("duplicate token in vocabulary: '" + t + "' has ids " + std::to_string(ins.first->second) + " and " +
                   std::to_string(i));
        tokens_.push_back(std::move(t));
    }

    types_.assign(n, kTokenNormal);
    if (const GgufValue* tt = array_of(g, "tokenizer.ggml.token_type", GgufType::I32, "integers")) {
        if (tt->count < (uint64_t)n)
            g.fail("tokenizer.ggml.token_type has " + std::to_string(tt->count) + " entries for " + std::to_string(n) +
                   " tokens");
        for (int32_t i = 0; i < n; i++) {
            const double x = tt->number_at(i);
            types_[i] = (x >= 0 && x <= kTokenByte) ? (TokenType)(int)x : kTokenUndefined;
        }
    }

    // -- flags and default special ids, as llama_vocab::impl::load sets them --
    int32_t bos, eos, unk;
    bool add_bos;
    if (model_ == "llama") {
        add_space_prefix_ = true, add_bos = true, bos = 1, eos = 2, unk = 0;
    } else {
        add_space_prefix_ = false, add_bos = pre_spec_.add_bos, bos = 11, eos = 11, unk = -1;
    }
    add_space_prefix_ = meta_bool(g, "tokenizer.ggml.add_space_prefix", add_space_prefix_);
    bos_ = meta_id(g, "tokenizer.ggml.bos_token_id", bos, n);
    eos_ = meta_id(g, "tokenizer.ggml.eos_token_id", eos, n);
    unk_ = meta_id(g, "tokenizer.ggml.unknown_token_id", unk, n);
    int32_t eot = meta_id(g, "tokenizer.ggml.eot_token_id", -1, n);
    int32_t eom = meta_id(g, "tokenizer.ggml.eom_token_id", -1, n);
    int32_t fim_pad = meta_id(g, "tokenizer.ggml.fim_pad_token_id", -1, n);
    int32_t fim_rep = meta_id(g, "tokenizer.ggml.fim_rep_token_id", -1, n);
    int32_t fim_sep = meta_id(g, "tokenizer.ggml.fim_sep_token_id", -1, n);
    add_bos_ = meta_bool(g, "tokenizer.ggml.add_bos_token", add_bos);
    add_eos_ = meta_bool(g, "tokenizer.ggml.add_eos_token", false);
    if (add_bos_ && bos_ < 0) g.fail("tokenizer.ggml.add_bos_token is true, but the vocabulary has no BOS token");
    if (add_eos_ && eos_ < 0) g.fail("tokenizer.ggml.add_eos_token is true, but the vocabulary has no EOS token");

    // -- special tokens found by their text; such tokens become CONTROL --
    auto find_names = [&](auto& names) -> int32_t {
        for (const char* name : names) {
            const int32_t id = token_id(name);
            if (id >= 0) {
                types_[id] = kTokenControl;
                return id;
            }
        }
        return -1;
    };
    if (eot < 0) eot = find_names(kEotNames);
    if (eom < 0) eom = find_names(kEomNames);
    if (fim_pad < 0) fim_pad = find_names(kFimPadNames);
    if (fim_rep < 0) fim_rep = find_names(kFimRepNames);
    if (fim_sep < 0) fim_sep = find_names(kFimSepNames);
    eot_ = eot, eom_ = eom;

    std::vector<int32_t> eog;
    auto add_eog = [&](int32_t id) {
        if (id >= 0 && std::find(eog.begin(), eog.end(), id) == eog.end()) eog.push_back(id);
    };
    for (int32_t id : {fim_pad, fim_rep, fim_sep}) add_eog(id);
    for (const char* name : kEogNames) {
        const int32_t id = token_id(name);
        if (id >= 0) {
            add_eog(id);
            types_[id] = kTokenControl;
        }
    }
    for (const char* name : kForceUserDefined) {
        const int32_t id = token_id(name);
        if (id >= 0) types_[id] = kTokenUserDefined;
    }
    for (int32_t id : {eos_, eot, eom}) add_eog(id);
    auto eog_by_text = [&](const char* text) -> int32_t {
        for (int32_t id : eog)
            if (tokens_[id] == text) return id;
        return -1;
    };
    auto drop_eog = [&](int32_t id) { eog.erase(std::find(eog.begin(), eog.end(), id)); };
    // gpt-oss / solar-open: "<|end|>" ends a message, not the generation.
    const int32_t end = eog_by_text("<|end|>");
    if (end >= 0 && ((eog_by_text("<|return|>") >= 0 && eog_by_text("<|call|>") >= 0) ||
                     (eog_by_text("<|calls|>") >= 0 && eog_by_text("<|flush|>") >= 0))) {
        drop_eog(end);
        types_[end] = kTokenUserDefined;
    }
    // gemma4 / paddleocr: "</s>" is an ordinary token there.
    const int32_t eos_text = eog_by_text("</s>");
    if (eog_by_text("<|tool_response>") >= 0 && eos_text >= 0) {
        drop_eog(eos_text);
        types_[eos_text] = kTokenNormal;
    }
    std::sort(eog.begin(), eog.end());
    stop_ids_ = eog;

    // -- special-token partition table: longest text first (stable: lower id first on ties) --
    const GgufValue* name_v = g.find("general.name");
    const std::string name = name_v && name_v->type == GgufType::STRING ? lower_ascii(std::string(name_v->str)) : "";
    const bool rstrip_all = name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos;
    std::vector<int32_t> specials;
    for (int32_t i = 0; i < n; i++)
        if (is_special_type(types_[i])) specials.push_back(i);
    std::stable_sort(specials.begin(), specials.end(),
                     [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
    for (int32_t id : specials) {
        const std::string& t = tokens_[id];
        bool rstrip = rstrip_all && t != "<unk>" && t != "<s>" && t != "<|endoftext|>";
        if (rstrip_all && t == "</s>") rstrip = true;
        partition_all_.push_back({id, rstrip});
        if (types_[id] == kTokenUserDefined) partition_user_.push_back({id, rstrip});
    }

    if (model_ == "gpt2") {
        const GgufValue* merges = array_of(g, "tokenizer.ggml.merges", GgufType::STRING, "strings");
        if (!merges) g.fail("gpt2 vocabulary without tokenizer.ggml.merges");
        merge_rank_.reserve(merges->count);
        for (uint64_t i = 0; i < merges->count && i < (uint64_t)INT32_MAX; i++) {
            const std::string_view m = merges->strings[i];
            const size_t pos = m.find(' ', 1);  // llama.cpp splits at the first space after position 0
            if (pos == std::string_view::npos) continue;
            merge_rank_.emplace(merge_key(m.substr(0, pos), m.substr(pos + 1)), (int)i);  // the first rank wins
        }
    } else {
        scores_.assign(n, 0.0f);
        if (const GgufValue* sc = array_of(g, "tokenizer.ggml.scores", GgufType::F32, "numbers")) {
            if (sc->count < (uint64_t)n)
                g.fail("tokenizer.ggml.scores has " + std::to_string(sc->count) + " entries for " + std::to_string(n) +
                       " tokens");
            for (int32_t i = 0; i < n; i++) scores_[i] = (float)sc->number_at(i);
        }
    }

    bytes_.reserve(n);
    for (int32_t i = 0; i < n; i++) bytes_.push_back(piece_bytes(i));
}

int32_t Tokenizer::token_id(const std::string& piece) const {
    auto it = token_to_id_.find(piece);
    return it == token_to_id_.end() ? -1 : it->second;
}

bool Tokenizer::is_stop(int32_t id) const { return std::binary_search(stop_ids_.begin(), stop_ids_.end(), id); }

const std::string& Tokenizer::token_to_bytes(int32_t id) const {
    if (id < 0 || id >= n_vocab())
        throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " +
                                std::to_string(n_vocab()) + " tokens");
    return bytes_[id];
}

std::string Tokenizer::piece_bytes(int32_t id) const {
    const std::string& text = tokens_[id];
    const TokenType type = types_[id];
    if (is_special_type(type)) return text;
    if (type == kTokenNormal) {
        std::string out;
        if (model_ == "llama") {  // "▁" -> " "
            for (size_t i = 0; i < text.size();) {
                if (text.compare(i, 3, kSpmSpace) == 0) {
                    out += ' ';
                    i += 3;
                } else {
                    out += text[i++];
                }
            }
            return out;
        }
        // Byte-level: each character of the alphabet is one byte; any other character (or byte
        // that is not valid UTF-8) stands for itself.
        for (size_t i = 0; i < text.size();) {
            const size_t len = std::min(utf8_len((uint8_t)text[i]), text.size() - i);
            const std::vector<uint32_t> cp = utf8_to_codepoints(text.substr(i, len));
            if (cp.size() != 1 || cp[0] == 0xFFFD) {  // not one valid character: the byte itself
                out += text[i++];
                continue;
            }
            const int b = unicode_to_byte(cp[0]);
            if (b >= 0) out += (char)b;
            else out.append(text, i, len);
            i += len;
        }
        return out;
    }
    if (type == kTokenByte) {  // "<0xNN>": llama.cpp reads the two hex digits
        if (text.size() < 5) return "";
        char* endp = nullptr;
        const std::string hex = text.substr(3, 2);
        const long v = std::strtol(hex.c_str(), &endp, 16);
        if (endp != hex.c_str() + hex.size() || v < 0 || v > 255) return "";
        return std::string(1, (char)v);
    }
    return "";  // UNUSED / UNDEFINED: rendered as nothing, as llama.cpp does
}

std::vector<Tokenizer::Fragment> Tokenizer::partition(const std::string& text, bool parse_special) const {
    std::vector<Fragment> frags = {{text, -1}};
    for (const Special& s : parse_special ? partition_all_ : partition_user_) {
        const std::string& st = tokens_[s.id];
        if (text.find(st) == std::string::npos) continue;
        std::vector<Fragment> out;
        for (Fragment& f : frags) {
            if (f.id >= 0 || f.text.find(st) == std::string::npos) {
                out.push_back(std::move(f));
                continue;
            }
            size_t pos = 0;
            for (;;) {
                const size_t hit = f.text.find(st, pos);
                if (hit == std::string::npos) break;
                if (hit > pos) out.push_back({f.text.substr(pos, hit - pos), -1});
                out.push_back({std::string(), s.id});
                pos = hit + st.size();
                if (s.rstrip)
                    while (pos < f.text.size() && is_ascii_space(f.text[pos])) pos++;
            }
            if (pos < f.text.size()) out.push_back({f.text.substr(pos), -1});
        }
        frags = std::move(out);
    }
    return frags;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special, bool parse_special) const {
    std::vector<int32_t> ids;
    if (add_special && add_bos_) ids.push_back(bos_);
    if (!text.empty()) {
        bool prev_special = true;  // the dummy-prefix space goes before the first text fragment
        for (const Fragment& f : partition(text, parse_special)) {
            if (f.id >= 0) {
                ids.push_back(f.id);
                prev_special = true;
            } else if (model_ == "llama") {
                encode_spm(add_space_prefix_ && prev_special ? " " + f.text : f.text, ids);
                prev_special = false;
            } else {
                encode_bpe(f.text, ids);
            }
        }
    }
    if (add_special && add_eos_) ids.push_back(eos_);
    return ids;
}

std::string Tokenizer::decode(const int32_t* ids, size_t n, bool skip_special) const {
    const bool strip_prefix = model_ == "llama" && add_space_prefix_;
    std::string out;
    bool prev_special = true;
    for (size_t i = 0; i < n; i++) {
        const std::string& data = token_to_bytes(ids[i]);  // checks the range
        const TokenType type = types_[ids[i]];
        const bool is_special = is_special_type(type);
        size_t from = 0;
        if (skip_special && (type == kTokenControl || type == kTokenUnknown)) from = data.size();
        else if (strip_prefix && prev_special && !is_special && !data.empty() && data[0] == ' ') from = 1;
        prev_special = is_special;
        out.append(data, from, std::string::npos);
    }
    return out;
}

}  // namespace edgeq
