// The symbol chain both merge algorithms (tokenizer_spm.cpp, tokenizer_bpe.cpp) work on, as
// llama.cpp's llm_symbol: text split into one symbol per UTF-8 character, doubly linked; merging
// a pair moves the right symbol's bytes into the left one and unlinks the right one.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "tokenizer/unicode.h"

namespace edgeq {

struct Symbol {
    int prev, next;   // neighbours in the chain, -1 at the ends
    size_t begin, n;  // bytes [begin, begin + n) of the text; n = 0 once merged away
};

// One symbol per UTF-8 character of text (lengths from the lead byte, cut at the end).
inline std::vector<Symbol> utf8_symbols(const std::string& text) {
    std::vector<Symbol> sym;
    for (size_t off = 0; off < text.size();) {
        const size_t n = std::min(utf8_len((uint8_t)text[off]), text.size() - off);
        const int idx = (int)sym.size();
        sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
        off += n;
    }
    return sym;
}

// Merges symbol `left` with its right neighbour.
inline void merge_right(std::vector<Symbol>& sym, int left) {
    Symbol& l = sym[left];
    Symbol& r = sym[l.next];
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = left;
}

}  // namespace edgeq
