// The reference matmul loop of the ternary lookup-table layouts (TL2: ternary_lut.h, TL2D:
// ternary_lut_dword.h), which differ only in where a triple's index, sign and table entry live:
//   y[t][r] = (fmaf over blocks b of d_r * isum_b) / s_t,  isum_b = the exact sum of the block's
//   triple values, as the TQ reference computes it (ref/ternary.cpp).
#pragma once
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace edgeq::ref {

// block_sum(tile, b, rr, xrow) -> isum_b of row rr (0..63) of the tile for the activation row
// xrow. Tiles of 64 rows, w_row_bytes apart per row; the rows' fp16 scales at scales_offset.
template <class BlockSum>
void matmul_lut_tiles(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                      int n_in, int n_tok, int row0, int row1, size_t scales_offset, BlockSum block_sum) {
    constexpr int kTileRows = 64;
    const int nb = n_in / QK_K;
    for (int r = row0; r < row1; r++) {
        const uint8_t* tile = (const uint8_t*)W + (size_t)(r / kTileRows) * kTileRows * w_row_bytes;
        const int rr = r % kTileRows;
        ggml_half h;
        std::memcpy(&h, tile + scales_offset + 2 * rr, 2);
        const float d = fp16_to_fp32(h);
        for (int t = 0; t < n_tok; t++) {
            const uint8_t* xrow = (const uint8_t*)Xq + (size_t)t * x_row_bytes;
            float s;
            std::memcpy(&s, xrow + i8_token_scale_offset(n_in), 4);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) acc = std::fmaf(d, (float)block_sum(tile, b, rr, xrow), acc);
            Y[(size_t)t * ldy + r] = acc / s;
        }
    }
}

}  // namespace edgeq::ref
