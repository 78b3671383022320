// Q4_K's 12 packed scale bytes -> sc[0..7], m[0..7] as 16 bytes, word-parallel (plain C, shared by
// the AVX2 and AVX-512 files; `static` so that each ISA's object file keeps its own copy).
//   j < 4:  sc = s[j] & 63,                               m = s[j + 4] & 63
//   j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,  m = (s[j + 4] >> 4) | (s[j] >> 6) << 4
// Word w[k] = bytes 4k .. 4k + 3, so (w[0] >> 2) & 0x30303030 moves bits 6-7 of each byte of w[0]
// to bits 4-5 of the same byte.
#pragma once
#include <cstdint>
#include <cstring>

namespace edgeq {

static inline void q4_K_scales_mins(const uint8_t* s, uint32_t out[4]) {
    uint32_t w[3];
    std::memcpy(w, s, 12);
    out[0] = w[0] & 0x3f3f3f3f;                                    // sc[0..3]
    out[1] = (w[2] & 0x0f0f0f0f) | ((w[0] >> 2) & 0x30303030);     // sc[4..7]
    out[2] = w[1] & 0x3f3f3f3f;                                    // m[0..3]
    out[3] = ((w[2] >> 4) & 0x0f0f0f0f) | ((w[1] >> 2) & 0x30303030);  // m[4..7]
}

}  // namespace edgeq
