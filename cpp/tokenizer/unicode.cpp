#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace edgeq {

namespace {
struct UnicodeRange {
    uint32_t first;
    uint8_t cls;
};
#include "tokenizer/unicode_ranges.inc"

struct ByteTables {
    std::array<std::string, 256> to_unicode;
    std::array<int16_t, 512> from_unicode;  // code points < 0x200 only
    ByteTables() {
        from_unicode.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const uint32_t cp = printable ? (uint32_t)b : 0x100u + (uint32_t)extra++;
            append_utf8(to_unicode[b], cp);
            from_unicode[cp] = (int16_t)b;
        }
    }
};
const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}
}  // namespace

UnicodeClass unicode_class(uint32_t cp) {
    if (cp >= 0x110000) return kUndefined;
    // The last range whose first code point is <= cp.
    const UnicodeRange* end = kUnicodeRanges + sizeof(kUnicodeRanges) / sizeof(kUnicodeRanges[0]);
    const UnicodeRange* it =
        std::upper_bound(kUnicodeRanges, end, cp, [](uint32_t v, const UnicodeRange& r) { return v < r.first; });
    return static_cast<UnicodeClass>((it - 1)->cls);
}

bool unicode_is_whitespace(uint32_t cp) {
    for (uint32_t w : kWhiteSpace)
        if (w == cp) return true;
    return false;
}

size_t utf8_len(uint8_t first) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[first >> 4];
}

std::vector<uint32_t> utf8_to_codepoints(const std::string& text) {
    std::vector<uint32_t> out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    auto cont = [&](size_t k) { return k < n && (s[k] & 0xC0) == 0x80; };
    while (i < n) {
        const uint8_t b = s[i];
        if (b < 0x80) {
            out.push_back(b);
            i += 1;
        } else if ((b & 0xE0) == 0xC0 && cont(i + 1)) {
            out.push_back(((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu));
            i += 2;
        } else if ((b & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
            out.push_back(((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu));
            i += 3;
        } else if ((b & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            out.push_back(((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                          (s[i + 3] & 0x3Fu));
            i += 4;
        } else {
            out.push_back(0xFFFD);
            i += 1;
        }
    }
    return out;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += (char)cp;
    } else if (cp < 0x800) {
        out += (char)(0xC0 | (cp >> 6));
        out += (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += (char)(0xE0 | (cp >> 12));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
    } else {
        out += (char)(0xF0 | (cp >> 18));
        out += (char)(0x80 | ((cp >> 12) & 0x3F));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
    }
}

const std::string& byte_to_unicode(uint8_t b) { return byte_tables().to_unicode[b]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_tables().from_unicode[cp] : -1; }

}  // namespace edgeq
