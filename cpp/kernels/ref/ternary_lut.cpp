// Scalar reference for EDGEQ_TL2 weights with ACT_I8_LUT3 activations: the spec that the SIMD
// versions (x86/*/ternary_lut.cpp) match bit for bit. Layouts and the math: kernels/ternary_lut.h.
// Its results equal the TQ reference's on the matrix it was packed from (test_kernels_tl.cpp).
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"
#include "kernels/ref/ternary_lut_matmul.h"
#include "kernels/ternary_lut.h"

namespace edgeq::ref {
namespace {

using namespace tl;

// Table of the triple (q0, q1, q2): lo[16] | hi[16] bytes of the 14 pattern sums (int16).
void build_table(int q0, int q1, int q2, uint8_t* out) {
    for (int i = 0; i < 16; i++) {
        const int v = i < kPatterns ? pattern_coef(i, 0) * q0 + pattern_coef(i, 1) * q1 + pattern_coef(i, 2) * q2 : 0;
        out[i] = (uint8_t)(v & 0xff);
        out[16 + i] = (uint8_t)((v >> 8) & 0xff);
    }
}

// x (n) -> ACT_I8_LUT3 row: the ACT_I8_TOKEN row, then one table per triple of each block
// (triple j < 85: values 3j .. 3j+2; triple 85: value 255 and two zeros).
void quantize_row_lut3(const float* x, void* xq, int n) {
    tl::quantize_row_lut3(quantize_row_i8_token, x, xq, n, [](const int8_t* qb, uint8_t* tb) {
        for (int j = 0; j < kTriples - 1; j++) build_table(qb[3 * j], qb[3 * j + 1], qb[3 * j + 2], tb + j * kTableBytes);
        build_table(qb[QK_K - 1], 0, 0, tb + (kTriples - 1) * kTableBytes);
    });
}

// Signed value of triple j of block b for row rr (0..63) of a tile, looked up in its table.
int triple_value(const uint8_t* tile, int b, int rr, int j, const uint8_t* table) {
    const uint8_t* blk = tile + (size_t)b * kBlockBytes;
    const int idx = (blk[(j / 2) * kTileRows + rr] >> (4 * (j % 2))) & 15;
    const int neg = (blk[kIdxBytes + (j / 8) * kTileRows + rr] >> (j % 8)) & 1;
    const int v = (int16_t)(table[idx] | (table[16 + idx] << 8));
    return neg ? -v : v;
}

void matmul_tl2(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
                int n_tok, int row0, int row1) {
    matmul_lut_tiles(W, w_row_bytes, Xq, x_row_bytes, Y, ldy, n_in, n_tok, row0, row1, scales_offset(n_in),
                     [n_in](const uint8_t* tile, int b, int rr, const uint8_t* xrow) {
                         const uint8_t* tab = xrow + lut3_tables_offset(n_in) + (size_t)b * kTriples * kTableBytes;
                         int32_t isum = 0;
                         for (int j = 0; j < kTriples; j++) isum += triple_value(tile, b, rr, j, tab + j * kTableBytes);
                         return isum;
                     });
}

}  // namespace

void register_ternary_lut(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3] = quantize_row_lut3;
    t.matmul[EDGEQ_TL2] = {ACT_I8_LUT3, matmul_tl2};
}

}  // namespace edgeq::ref
