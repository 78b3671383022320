// Codes of the ternary GGUF block types: value k of a block as its code c in {0, 1, 2} (w = d (c - 1);
// a TQ2_0 code may also be 3, w = 2 d, which no ternary quantizer writes). Layouts in quant_types.h.
// Shared by the reference kernels (ternary.cpp) and the TL2 packer (ternary_lut_pack.cpp).
#pragma once
#include "edgeq/quant_types.h"

namespace edgeq::ref {

// `static`: each translation unit keeps its own copy (as quant_types.h explains).
// Value k (0..255) of a TQ2_0 block as its code c in {0, 1, 2}: k = 128 h + 32 l + m lives in bits
// 2l..2l+1 of qs[32 h + m].
static inline int tq2_0_code(const block_tq2_0& b, int k) {
    const int h = k / 128, l = (k % 128) / 32, m = k % 32;
    return (b.qs[32 * h + m] >> (2 * l)) & 3;
}

// Digit n of a base-3 fixed-point byte: multiplying by 3^n (mod 256) moves digit n to the top,
// and (v * 3) >> 8 reads the top digit.
static inline int base3_digit(uint8_t byte, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t v = (uint8_t)(byte * pow3[n]);
    return (v * 3) >> 8;
}

// Value k (0..255) of a TQ1_0 block as its code: 0..159 from qs[0..31] (digit k / 32 of
// qs[k % 32]), 160..239 from qs[32..47] (digit (k - 160) / 16 of qs[32 + k % 16]), 240..255 from
// qh[0..3] (digit (k - 240) / 4 of qh[k % 4]).
static inline int tq1_0_code(const block_tq1_0& b, int k) {
    if (k < 160) return base3_digit(b.qs[k % 32], k / 32);
    if (k < 240) return base3_digit(b.qs[32 + (k - 160) % 16], (k - 160) / 16);
    return base3_digit(b.qh[(k - 240) % 4], (k - 240) / 4);
}

// All 256 codes of a block at once (the same layouts, loops a compiler vectorizes), for bulk
// conversion at load time; test_kernels_tl checks them against the per-value functions above.
static inline void tq2_0_codes(const block_tq2_0& b, uint8_t c[QK_K]) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 4; l++)
            for (int m = 0; m < 32; m++) c[128 * h + 32 * l + m] = (uint8_t)((b.qs[32 * h + m] >> (2 * l)) & 3);
}

static inline void tq1_0_codes(const block_tq1_0& b, uint8_t c[QK_K]) {
    for (int n = 0; n < 5; n++)
        for (int m = 0; m < 32; m++) c[32 * n + m] = (uint8_t)base3_digit(b.qs[m], n);
    for (int n = 0; n < 5; n++)
        for (int m = 0; m < 16; m++) c[160 + 16 * n + m] = (uint8_t)base3_digit(b.qs[32 + m], n);
    for (int n = 0; n < 4; n++)
        for (int j = 0; j < 4; j++) c[240 + 4 * n + j] = (uint8_t)base3_digit(b.qh[j], n);
}

}  // namespace edgeq::ref
