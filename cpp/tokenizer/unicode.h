// Unicode helpers of the tokenizers: UTF-8 <-> code points (llama.cpp's lenient decoder),
// general category classes and White_Space (tables generated into unicode_ranges.inc by
// gen_unicode_ranges.py), and GPT-2's byte <-> printable character map.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgeq {

// The first letter of the general category, except unassigned code points (Cn): kUndefined.
enum UnicodeClass : uint8_t {
    kUndefined = 0, kNumber = 1, kLetter = 2, kSeparator = 3, kMark = 4, kPunctuation = 5, kSymbol = 6,
    kControl = 7,
};
UnicodeClass unicode_class(uint32_t cp);
bool unicode_is_whitespace(uint32_t cp);  // Unicode White_Space (regex \s)

// Bytes of the UTF-8 sequence that starts with this byte, from its high bits alone
// (continuation and invalid lead bytes: 1), as llama.cpp's unicode_len_utf8.
size_t utf8_len(uint8_t first);

// Code points of UTF-8 text. An invalid or truncated sequence becomes U+FFFD and decoding goes
// on at the next byte (llama.cpp's unicode_cpts_from_utf8: no overlong or surrogate checks).
std::vector<uint32_t> utf8_to_codepoints(const std::string& text);
void append_utf8(std::string& out, uint32_t cp);  // cp <= 0x10FFFF

// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes
// take U+0100 onwards in order.
const std::string& byte_to_unicode(uint8_t b);  // the character's UTF-8
int unicode_to_byte(uint32_t cp);                // the byte, or -1 if cp is not in the alphabet

}  // namespace edgeq
