#include "generate/utf8_stream.h"

#include <cstdint>

namespace edgeq {

namespace {
const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Bytes of the character a lead byte starts (0: not a valid lead byte).
int sequence_length(uint8_t b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;  // continuation bytes, C0, C1, F5..FF
}

// Whether byte k (1-based position after the lead) may follow: the second byte's range depends on
// the lead (no overlongs, no surrogates, nothing above U+10FFFF), later ones are 80..BF.
bool valid_continuation(uint8_t lead, size_t k, uint8_t b) {
    if (k == 1) {
        switch (lead) {
            case 0xE0: return b >= 0xA0 && b <= 0xBF;
            case 0xED: return b >= 0x80 && b <= 0x9F;
            case 0xF0: return b >= 0x90 && b <= 0xBF;
            case 0xF4: return b >= 0x80 && b <= 0x8F;
            default: break;
        }
    }
    return (b & 0xC0) == 0x80;
}
}  // namespace

std::string Utf8Stream::push(const std::string& bytes) {
    std::string in = pending_ + bytes;
    pending_.clear();
    std::string out;
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
        const uint8_t lead = (uint8_t)in[i];
        const int len = sequence_length(lead);
        if (len == 0) {
            out += kReplacement;
            i++;
            continue;
        }
        size_t k = 1;
        while (k < (size_t)len && i + k < in.size() && valid_continuation(lead, k, (uint8_t)in[i + k])) k++;
        if (k == (size_t)len) {
            out.append(in, i, k);
        } else if (i + k == in.size()) {
            pending_ = in.substr(i);  // unfinished but valid so far: wait for more bytes
        } else {
            out += kReplacement;  // the valid prefix is one invalid subpart; the next byte starts over
        }
        i += k;
    }
    return out;
}

std::string Utf8Stream::flush() {
    const bool held = !pending_.empty();
    pending_.clear();
    return held ? std::string(kReplacement) : std::string();
}

}  // namespace edgeq
