// SentencePiece-style encoding, as llama.cpp's llm_tokenizer_spm_session: the text (spaces
// escaped to "▁") starts as one symbol per UTF-8 character; the adjacent pair whose
// concatenation is the token with the highest score is merged first (ties: the leftmost), until
// no pair forms a token. Each final symbol is then a token (every merge makes one) or a single
// character that is not: that one becomes byte-fallback tokens <0xXX>. (llama.cpp's resegment
// via rev_merge never fires for the same reason: every merged text is a token.)
#include <queue>

#include "tokenizer/symbols.h"
#include "tokenizer/tokenizer.h"

namespace edgeq {

namespace {
struct Bigram {
    int left, right;
    float score;
    size_t size;  // bytes of the merged text: detects pairs whose symbols changed since
};
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};
}  // namespace

void Tokenizer::encode_spm(const std::string& raw, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(raw.size() + raw.size() / 2);
    for (char c : raw) {
        if (c == ' ') text += "\xE2\x96\x81";
        else text += c;
    }
    std::vector<Symbol> sym = utf8_symbols(text);
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    auto try_add = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const size_t size = sym[left].n + sym[right].n;
        const int32_t id = find(text.substr(sym[left].begin, size));
        if (id >= 0) queue.push({left, right, scores_[id], size});
    };
    for (int i = 1; i < (int)sym.size(); i++) try_add(i - 1, i);
    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        const Symbol& l = sym[b.left];
        const Symbol& r = sym[b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
        merge_right(sym, b.left);
        try_add(sym[b.left].prev, b.left);
        try_add(b.left, sym[b.left].next);
    }
    if (sym.empty()) return;
    for (int i = 0; i != -1; i = sym[i].next) {
        const std::string t = text.substr(sym[i].begin, sym[i].n);
        const int32_t id = find(t);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (unsigned char c : t) {  // byte fallback: <0xXX>, else the byte itself as a token
            static const char* hex = "0123456789ABCDEF";
            const char buf[7] = {'<', '0', 'x', hex[c >> 4], hex[c & 15], '>', 0};
            int32_t b = find(buf);
            if (b < 0) b = find(std::string(1, (char)c));
            if (b < 0) b = unk_;  // llama.cpp would throw here; no vocabulary we know lacks both
            if (b >= 0) out.push_back(b);
        }
    }
}

}  // namespace edgeq
