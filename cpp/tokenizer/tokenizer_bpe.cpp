// Byte-level BPE encoding, as llama.cpp's llm_tokenizer_bpe_session: each pre-tokenized word
// (already in GPT-2's byte alphabet) starts as one symbol per character; the adjacent pair with
// the lowest merge rank is merged first (ties: the leftmost), until no pair has a rank. Each final
// symbol is its token; a symbol that is not a token (a merge into a text outside the vocabulary)
// becomes the tokens of its single bytes.
#include <queue>

#include "tokenizer/symbols.h"
#include "tokenizer/tokenizer.h"

namespace edgeq {

namespace {
struct Bigram {
    int left, right;
    int rank;
    std::string text;  // the merged text: detects pairs whose symbols changed since
};
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};
}  // namespace

int Tokenizer::rank(const std::string& left, const std::string& right) const {
    auto it = merge_rank_.find(merge_key(left, right));
    return it == merge_rank_.end() ? -1 : it->second;
}

void Tokenizer::encode_bpe(const std::string& text, std::vector<int32_t>& out) const {
    for (const std::string& word : pretokenize(text, pre_spec_)) {
        if (pre_spec_.ignore_merges) {
            const int32_t id = find(word);
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
        }
        std::vector<Symbol> sym = utf8_symbols(word);
        std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
        auto try_add = [&](int left, int right) {
            if (left < 0 || right < 0) return;
            const std::string l = word.substr(sym[left].begin, sym[left].n);
            const std::string r = word.substr(sym[right].begin, sym[right].n);
            const int rk = rank(l, r);
            if (rk >= 0) queue.push({left, right, rk, l + r});
        };
        for (int i = 1; i < (int)sym.size(); i++) try_add(i - 1, i);
        while (!queue.empty()) {
            const Bigram b = queue.top();
            queue.pop();
            const Symbol& l = sym[b.left];
            const Symbol& r = sym[b.right];
            if (l.n == 0 || r.n == 0 || l.n + r.n != b.text.size() ||
                word.compare(l.begin, l.n + r.n, b.text) != 0)
                continue;  // stale
            merge_right(sym, b.left);
            try_add(sym[b.left].prev, b.left);
            try_add(b.left, sym[b.left].next);
        }
        for (const Symbol& s : sym) {
            if (s.n == 0) continue;
            const std::string t = word.substr(s.begin, s.n);
            const int32_t id = find(t);
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
            for (char c : t) {  // llama.cpp looks each byte of the symbol up as a one-byte token
                const int32_t b = find(std::string(1, c));
                if (b >= 0) out.push_back(b);
            }
        }
    }
}

}  // namespace edgeq
