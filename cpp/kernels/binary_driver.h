// The ISA-neutral loop nest of the Q1_0 x ACT_Q8_PLANES matmul kernels (the spec is
// cpp/kernels/ref/binary.cpp), shared by the x86 and ARM files the way ternary_driver.h is: no
// intrinsics here, each ISA's kernel class K (in that ISA's namespace, compiled with its flags)
// supplies the vector work.
//
// One vector lane = one weight row (K::kLanes rows per tile), so each output keeps the reference's
// float order in its own lane. Per (row tile, block) K::load transposes the tile's weight bits into
// four vectors (lane r = 32-bit word k of row r's 128 bits) and converts the kLanes fp16 scales;
// that tile is then reused by every token of the chunk: K::accumulate ANDs it with the token's
// broadcast bit planes, popcounts, and does acc = fma(d_w * d_x, (float)isum, acc) per lane.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"

namespace edgeq::binary {

// Tokens whose activations stay cache-resident while every row tile passes over them
// (64 * n_in * 136 / 128 bytes: 600 KB for n_in = 8192).
constexpr int kChunk = 64;

// The MatmulFn contract (kernels.h) for Q1_0 weights with activations of K::ActBlock
// (block_q8_planes for ACT_Q8_PLANES, block_b1 for ACT_B1).
// K provides: kLanes, Tile, start(const uint8_t* const rows[kLanes], Tile&) (once per row tile), load(const uint8_t* const rows[kLanes], int b, Tile&),
// accumulate(const Tile&, const ActBlock& x, float* acc /* kLanes */).
template <class K>
void matmul(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
            int n_tok, int row0, int row1) {
    constexpr int L = K::kLanes;
    const int nb = n_in / QK1_0;
    thread_local std::vector<float> facc;  // (tokens of the chunk, L lanes): the float accumulators
    facc.resize((size_t)kChunk * L);
    // The first row tile, which no earlier tile prefetched (a call often covers only a part of
    // the matrix: the thread pool splits its rows).
    for (const uint8_t* p = (const uint8_t*)W + (size_t)row0 * w_row_bytes;
         p < (const uint8_t*)W + (size_t)std::min(row0 + L, row1) * w_row_bytes; p += 64)
        __builtin_prefetch(p);
    for (int tc = 0; tc < n_tok; tc += kChunk) {
        const int nt = std::min(kChunk, n_tok - tc);
        const uint8_t* X = (const uint8_t*)Xq + (size_t)tc * x_row_bytes;
        for (int r = row0; r < row1; r += L) {
            const uint8_t* rows[L];  // a ragged last tile repeats its last row; those lanes are not stored
            for (int i = 0; i < L; i++) rows[i] = (const uint8_t*)W + (size_t)std::min(r + i, row1 - 1) * w_row_bytes;
            std::fill(facc.begin(), facc.begin() + (size_t)nt * L, 0.0f);
            typename K::Tile tile;
            K::start(rows, tile);
            // The next row tile's weights, prefetched a contiguous slice per block: a tile reads its
            // rows block by block with a stride of w_row_bytes, a pattern the hardware prefetchers
            // follow poorly. Measured (bench/binary_kernels.py, CPU time, AVX-512, 1 thread): no
            // prefetch 3.3-3.7 GB/s; this 9-10 GB/s; 2 or 4 tiles ahead no better; the whole next
            // tile at once, or touching the tile in address order first, 7-8 GB/s.
            const uint8_t* pf = (const uint8_t*)W + (size_t)std::min(r + L, row1) * w_row_bytes;
            const uint8_t* region_end = (const uint8_t*)W + (size_t)row1 * w_row_bytes;
            const size_t pf_slice = ((size_t)L * w_row_bytes / nb + 63) / 64 * 64;
            for (int b = 0; b < nb; b++) {
                for (const uint8_t* p = pf + b * pf_slice; p < pf + (b + 1) * pf_slice && p < region_end; p += 64)
                    __builtin_prefetch(p);
                K::load(rows, b, tile);
                for (int t = 0; t < nt; t++)
                    K::accumulate(tile, ((const typename K::ActBlock*)(X + (size_t)t * x_row_bytes))[b], &facc[(size_t)t * L]);
            }
            for (int t = 0; t < nt; t++)
                std::memcpy(Y + (size_t)(tc + t) * ldy + r, &facc[(size_t)t * L], sizeof(float) * std::min(L, row1 - r));
        }
    }
}

}  // namespace edgeq::binary
