// Small helpers the Q4_K quantizers share (kquants.cpp: ggml's reference; q4k_search.cpp: the
// searched fit): ggml's rounding and the packing of Q4_K's 6-bit sub-block scales and mins.
#pragma once
#include <cstdint>
#include <cstring>

namespace edgeq::quant {

// round(v) to the nearest integer, ties to even, for |v| <= 2^22: adding 1.5 * 2^23 leaves the
// integer in the low mantissa bits (ggml's nearest_int; the same as nearbyint in this range).
inline int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    int32_t bits;
    std::memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The 12 scale bytes of Q4_K: six-bit scale ls[j] and min lm[j] of the 8 sub-blocks.
//   j < 4:  s[j] = ls[j],  s[j + 4] = lm[j]            (bits 0..5)
//   j >= 4: s[j + 4] = (ls[j] & 15) | (lm[j] & 15) << 4, and their top 2 bits go to bits 6..7 of
//           s[j - 4] (scale) and s[j] (min).
inline void pack_q4_K_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
    for (int j = 0; j < 4; j++) {
        s[j] = ls[j];
        s[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        s[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
}

inline void q4_K_scale_min(const uint8_t* s, int j, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

}  // namespace edgeq::quant
