// Scalar reference for EDGEQ_TL2D weights with ACT_I8_LUT3S activations (layouts and math:
// kernels/ternary_lut_dword.h): the spec the AVX-512 VBMI kernel matches bit for bit. Its results
// equal the TQ reference's on the matrix it was packed from (test_kernels_tld.cpp).
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"
#include "kernels/ref/ternary_lut_matmul.h"
#include "kernels/ternary_lut_dword.h"

namespace edgeq::ref {
namespace {

using namespace tld;

// x (n) -> ACT_I8_LUT3S row: the ACT_I8_TOKEN row, then each block's signed triple tables.
void quantize_row_lut3s(const float* x, void* xq, int n) {
    quantize_row_i8_token(x, xq, n);
    const int8_t* q = (const int8_t*)xq;
    uint8_t* tab = (uint8_t*)xq + tables_offset(n);
    for (int b = 0; b < n / QK_K; b++) {
        uint8_t* tb = tab + (size_t)b * kBlockTableBytes;
        std::memset(tb, 0, kBlockTableBytes);
        for (int j = 0; j < kTriples; j++) {
            int q3[3];
            triple_values(q + (size_t)b * QK_K, j, q3);
            for (int neg = 0; neg < 2; neg++)
                for (int i = 0; i < tl::kPatterns; i++) {
                    int v = 0;
                    for (int k = 0; k < 3; k++) v += tl::pattern_coef(i, k) * q3[k];
                    if (neg) v = -v;
                    tb[table_offset(j, neg, i)] = (uint8_t)(v & 0xff);
                    tb[table_offset(j, neg, i) + 128] = (uint8_t)((v >> 8) & 0xff);
                }
        }
    }
}

// Signed value of triple j of block b for row rr (0..63) of a tile, looked up in the block's tables.
int triple_value(const uint8_t* blk, int rr, int j, const uint8_t* tables) {
    const int idx = (blk[idx_offset(j, rr)] >> (4 * ((j % 8) / 4))) & 15;
    const int neg = (blk[sign_offset(j, rr) + sign_bit(j, rr) / 8] >> (sign_bit(j, rr) % 8)) & 1;
    const size_t at = table_offset(j, neg, idx);
    return (int16_t)(tables[at] | (tables[at + 128] << 8));
}

void matmul_tl2d(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    matmul_lut_tiles(W, w_row_bytes, Xq, x_row_bytes, Y, ldy, n_in, n_tok, row0, row1, scales_offset(n_in),
                     [n_in](const uint8_t* tile, int b, int rr, const uint8_t* xrow) {
                         const uint8_t* tables = xrow + tables_offset(n_in) + (size_t)b * kBlockTableBytes;
                         int32_t isum = 0;
                         for (int j = 0; j < kTriples; j++) isum += triple_value(tile + (size_t)b * kBlockBytes, rr, j, tables);
                         return isum;
                     });
}

}  // namespace

void register_ternary_lut_dword(KernelTable& t) {
    t.quantize_act[ACT_I8_LUT3S] = quantize_row_lut3s;
    t.matmul[EDGEQ_TL2D] = {ACT_I8_LUT3S, matmul_tl2d};
}

}  // namespace edgeq::ref
