// The ISA-neutral loop nest of the EDGEQ_TL2 matmul kernels (layout and math: ternary_lut.h),
// shared by the AVX2, AVX-512 and NEON files the way ternary_driver.h is: no intrinsics here, each ISA's
// kernel class K (in that ISA's namespace, compiled with its flags) does the vector work.
//
//   for each chunk of tokens (their tables together fit the L2 cache)
//     for each 64-row tile overlapping [row0, row1)  (tiles are contiguous: one sequential read)
//       for each group of G tokens:  facc (G, 64) = 0
//         for each block b: K::block<G> decodes the tile's indices and signs once for all G
//                           tokens, looks each token's tables up, forms every (token, row) exact
//                           int16 block sum and does facc = fma(d, (float)isum_b, facc)
//         y = facc / s for the tile's rows inside [row0, row1)
// Decode (one token) is G = 1: every weight byte is read once and used at once.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/ternary_lut.h"

namespace edgeq::tl {

// Activation tables of one chunk of tokens stay in the L2 cache while every tile passes over them:
// 2752 bytes per 256 inputs per token (27.5 KB per token at n_in = 2560).
constexpr size_t kChunkTableBytes = 512 * 1024;
// How far ahead of the block being multiplied the kernels prefetch the weights (a block's worth
// per block, a few lines per sign group: a burst of 54 prefetches stalled the loads). Tiles are
// one sequential stream, yet without it decode from DRAM ran far below the bandwidth.
// Measured on the 2-core EPYC, 6912 x 2560 from DRAM, 2 threads: 4 KB best, 8 and 16 KB a few
// percent slower, 32 KB far slower.
constexpr size_t kPrefetchBytes = 4096;

// K provides: kGroup (most tokens per group); block<G>(blk, tab[G], d, facc) for one block
// (blk: its kBlockBytes in the tile; tab[t]: token t's 86 tables of this block; d[64]: the tile's
// row scales; facc (G, 64): float accumulators, row order); finish(facc, s, y, lo, hi): y[r] =
// facc[r] / s for r in [lo, hi).
template <class K, int G>
void token_groups(const uint8_t* tile, int nb, const uint8_t* X, size_t x_row_bytes, size_t tab_off, const float* d,
                  float* const* y, int t, int nt, int lo, int hi, size_t s_off) {
    for (; t + G <= nt; t += G) {
        alignas(64) float facc[G * kTileRows] = {};
        const uint8_t* tab[G];
        for (int g = 0; g < G; g++) tab[g] = X + (size_t)(t + g) * x_row_bytes + tab_off;
        for (int b = 0; b < nb; b++) {
            const uint8_t* blk = tile + (size_t)b * kBlockBytes;
            K::template block<G>(blk, tab, d, facc);
            for (int g = 0; g < G; g++) tab[g] += kBlockTableBytes;
        }
        for (int g = 0; g < G; g++) {
            float s;
            std::memcpy(&s, X + (size_t)(t + g) * x_row_bytes + s_off, 4);
            K::finish(facc + g * kTileRows, s, y[t + g], lo, hi);
        }
    }
    if constexpr (G > 1)
        if (t < nt) token_groups<K, G - 1>(tile, nb, X, x_row_bytes, tab_off, d, y, t, nt, lo, hi, s_off);
}

// The MatmulFn contract (kernels.h) for EDGEQ_TL2 weights with ACT_I8_LUT3 activations.
template <class K>
void matmul(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
            int n_tok, int row0, int row1) {
    if (row0 >= row1) return;
    const int nb = n_in / QK_K;
    const size_t tile_stride = (size_t)kTileRows * w_row_bytes;
    const int chunk = std::max(K::kGroup, (int)(kChunkTableBytes / ((size_t)nb * kBlockTableBytes)));
    constexpr int kMaxChunk = 256;
    float* y[kMaxChunk];  // output row of each token of the chunk, offset to the current tile
    for (int tc = 0; tc < n_tok; tc += std::min(chunk, kMaxChunk)) {
        const int nt = std::min({chunk, kMaxChunk, n_tok - tc});
        const uint8_t* X = (const uint8_t*)Xq + (size_t)tc * x_row_bytes;
        for (int T = row0 / kTileRows; T * kTileRows < row1; T++) {
            const uint8_t* tile = (const uint8_t*)W + (size_t)T * tile_stride;
            alignas(64) float d[kTileRows];
            ggml_half h[kTileRows];
            std::memcpy(h, tile + scales_offset(n_in), sizeof h);
            for (int r = 0; r < kTileRows; r++) d[r] = fp16_to_fp32(h[r]);
            const int base = T * kTileRows;
            const int lo = std::max(row0, base) - base, hi = std::min(row1, base + kTileRows) - base;
            for (int t = 0; t < nt; t++) y[t] = Y + (size_t)(tc + t) * ldy + base;
            token_groups<K, K::kGroup>(tile, nb, X, x_row_bytes, lut3_tables_offset(n_in), d, y, 0, nt, lo, hi,
                                       i8_token_scale_offset(n_in));
        }
    }
}

}  // namespace edgeq::tl
