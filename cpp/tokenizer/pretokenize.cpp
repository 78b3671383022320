#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <cstdint>
#include <map>

#include "tokenizer/unicode.h"

namespace edgeq {

namespace {

// One piece being split: code points [begin, end) of the text. Reading outside it gives
// kOutside, whose class is no class at all (not whitespace, letter, number or other).
constexpr uint32_t kOutside = 0xFFFFFFFF;

struct Piece {
    const std::vector<uint32_t>& cp;
    size_t begin, end;
    uint32_t at(size_t i) const { return i >= begin && i < end ? cp[i] : kOutside; }
    bool inside(size_t i) const { return i >= begin && i < end; }
    bool letter(size_t i) const { return inside(i) && unicode_class(cp[i]) == kLetter; }
    bool number(size_t i) const { return inside(i) && unicode_class(cp[i]) == kNumber; }
    bool space(size_t i) const { return inside(i) && unicode_is_whitespace(cp[i]); }
    // [^\s\p{L}\p{N}]: any other code point inside the piece.
    bool other(size_t i) const { return inside(i) && !space(i) && !letter(i) && !number(i); }
};

uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// Length of an English contraction at i ('s 't 'm 'd 're 've 'll), 0 if none. No non-ASCII code
// point lower-cases to one of these letters, so ASCII folding equals llama.cpp's unicode_tolower.
size_t contraction(const Piece& p, size_t i, bool any_case) {
    if (p.at(i) != '\'' || !p.inside(i + 1)) return 0;
    auto fold = [&](uint32_t c) { return any_case ? ascii_lower(c) : c; };
    const uint32_t a = fold(p.at(i + 1));
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (!p.inside(i + 2)) return 0;
    const uint32_t b = fold(p.at(i + 2));
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// Splits every piece into the lengths (in code points) of its words, appending to out.
void split_gpt2(const Piece& p, std::vector<size_t>& out) {
    size_t pos = p.begin;
    while (pos < p.end) {
        size_t end = pos;
        const uint32_t c = p.at(pos);
        const size_t skip = (c == ' ') ? 1 : 0;  // the optional leading space of " ?X+"
        if (size_t n = contraction(p, pos, false)) {
            end = pos + n;
        } else if (p.letter(pos + skip)) {  // ' ?\p{L}+'
            end = pos + skip;
            while (p.letter(end)) end++;
        } else if (p.number(pos + skip)) {  // ' ?\p{N}+'
            end = pos + skip;
            while (p.number(end)) end++;
        } else if (p.other(pos + skip)) {  // ' ?[^\s\p{L}\p{N}]+'
            end = pos + skip;
            while (p.other(end)) end++;
        } else {
            size_t n_space = 0;
            while (p.space(pos + n_space)) n_space++;
            if (n_space > 1 && p.inside(pos + n_space)) end = pos + n_space - 1;  // '\s+(?!\S)'
            else if (n_space > 0) end = pos + n_space;                           // '\s+'
            else end = pos + 1;                                                    // no match
        }
        out.push_back(end - pos);
        pos = end;
    }
}

void split_llama3(const Piece& p, std::vector<size_t>& out) {
    size_t pos = p.begin;
    while (pos < p.end) {
        const uint32_t c = p.at(pos);
        size_t end = pos;
        if (size_t n = contraction(p, pos, true)) {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            out.push_back(n);
            pos += n;
            continue;
        }
        // '[^\r\n\p{L}\p{N}]?\p{L}+'
        if (!(c == '\r' || c == '\n' || p.number(pos)) && (p.letter(pos) || p.letter(pos + 1))) {
            end = pos + 1;
            while (p.letter(end)) end++;
            out.push_back(end - pos);
            pos = end;
            continue;
        }
        if (p.number(pos)) {  // '\p{N}{1,3}'
            end = pos;
            while (p.number(end) && end - pos < 3) end++;
            out.push_back(end - pos);
            pos = end;
            continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        const size_t skip = (c == ' ') ? 1 : 0;
        if (p.other(pos + skip)) {  // a lone trailing space falls to '\s+' below: the same word
            end = pos + skip;
            while (p.other(end)) end++;
            while (p.at(end) == '\r' || p.at(end) == '\n') end++;
            out.push_back(end - pos);
            pos = end;
            continue;
        }
        size_t n_space = 0, last_newline_end = 0;
        while (p.space(pos + n_space)) {
            const uint32_t s = p.at(pos + n_space);
            if (s == '\r' || s == '\n') last_newline_end = pos + n_space + 1;
            n_space++;
        }
        if (last_newline_end > 0) end = last_newline_end;                         // '\s*[\r\n]+'
        else if (n_space > 1 && p.inside(pos + n_space)) end = pos + n_space - 1;  // '\s+(?!\S)'
        else if (n_space > 0) end = pos + n_space;                                 // '\s+'
        else end = pos + 1;                                                         // no match
        out.push_back(end - pos);
        pos = end;
    }
}

void split_each_digit(const Piece& p, std::vector<size_t>& out) {
    size_t pos = p.begin;
    while (pos < p.end) {
        size_t end = pos + 1;
        if (!p.number(pos))
            while (end < p.end && !p.number(end)) end++;
        out.push_back(end - pos);
        pos = end;
    }
}

const std::map<std::string, PreTokenizerSpec>& table() {
    // The names llama.cpp (llama_vocab::impl::load) maps to these pre-tokenizer types.
    static const std::map<std::string, PreTokenizerSpec> t = [] {
        std::map<std::string, PreTokenizerSpec> m;
        const PreTokenizerSpec llama3{{SplitRule::Llama3}, true, true};
        for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                              "jina-v5-nano"})
            m[n] = llama3;
        for (const char* n : {"dbrx", "smaug-bpe"}) m[n] = PreTokenizerSpec{{SplitRule::Llama3}, false, false};
        for (const char* n : {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b",
                              "mellum2"})
            m[n] = PreTokenizerSpec{{SplitRule::EachDigit, SplitRule::Gpt2}, false, false};
        for (const char* n : {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                              "a.x-4.0", "mellum", "modern-bert", "exaone4", "jina-v1-en", "jina-v2-code",
                              "roberta-bpe", "mpt", "olmo", "jais", "trillion", "granite-docling"})
            m[n] = PreTokenizerSpec{{SplitRule::Gpt2}, false, false};
        return m;
    }();
    return t;
}

}  // namespace

const PreTokenizerSpec* find_pretokenizer(const std::string& name) {
    auto it = table().find(name);
    return it == table().end() ? nullptr : &it->second;
}

std::string supported_pretokenizers() {
    std::string out;
    for (const auto& kv : table()) out += (out.empty() ? "" : ", ") + kv.first;
    return out;
}

std::vector<std::string> pretokenize(const std::string& text, const PreTokenizerSpec& spec) {
    const std::vector<uint32_t> cp = utf8_to_codepoints(text);
    std::vector<size_t> lengths = {cp.size()};
    for (SplitRule rule : spec.rules) {
        std::vector<size_t> next;
        next.reserve(lengths.size() * 2);
        size_t start = 0;
        for (size_t len : lengths) {
            const Piece p{cp, start, start + len};
            switch (rule) {
                case SplitRule::Gpt2: split_gpt2(p, next); break;
                case SplitRule::Llama3: split_llama3(p, next); break;
                case SplitRule::EachDigit: split_each_digit(p, next); break;
            }
            start += len;
        }
        lengths.swap(next);
    }
    std::vector<std::string> words;
    words.reserve(lengths.size());
    size_t start = 0;
    for (size_t len : lengths) {
        if (len == 0) continue;
        std::string utf8, word;
        for (size_t i = start; i < start + len; i++) append_utf8(utf8, cp[i]);
        for (unsigned char b : utf8) word += byte_to_unicode(b);
        words.push_back(std::move(word));
        start += len;
    }
    return words;
}

}  // namespace edgeq
