// The ISA-neutral loop nest of the ternary (TQ2_0, TQ1_0) matmul kernels, shared by the AVX2 and
// AVX-512 files the way tile_driver.h is: no intrinsics here, each ISA's kernel class K (in that
// ISA's namespace, compiled with its flags) supplies the vector work, so every instantiation is
// distinct per ISA.
//
// Layout of the work. One vector lane = one weight row (K::kLanes rows per tile), so every output
// keeps the reference's float order (cpp/kernels/ref/ternary.cpp) in its own lane:
//   for each block b:  acc_lane = fma(d_b, (float)isum_b, acc_lane);   at the end  y = acc / s.
// Per (row tile, block) K::decode turns the kLanes packed weight blocks into 64 vectors T[k]
// (lane r = the four codes of values 4k .. 4k+3 of row r, unsigned 0..3) by transposing the packed
// bytes and unpacking them; that decode is then reused by every token of the chunk, which
// multiplies T[k] with its four int8 activations broadcast to all lanes (no horizontal sums).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"

namespace edgeq::ternary {

// Tokens whose activations stay cache-resident while every row tile passes over them:
// kChunk * n_in bytes (128 * 6912 = 884 KB at most for a BitNet-2B down projection).
constexpr int kChunk = 128;
// How far past the end of the current row tile the weight prefetch starts (see matmul): 0, the
// next tile. Measured 0 / 4 / 12 / 24 KB on the shared 2-core EPYC: no distance was reliably
// better than the others, all far better than no prefetch.
constexpr size_t kPrefetchBytes = 0;

// Groups of G tokens starting at token t (of the chunk), then the ragged rest with smaller G.
// K::group<G>(tile, X of the first token, x_row_bytes, n_in, b, facc of the first token).
template <class K, int G>
inline void token_groups(const typename K::Tile& tile, const uint8_t* X, size_t x_row_bytes, int n_in, int b,
                         float* facc, int t, int nt) {
    for (; t + G <= nt; t += G) K::template group<G>(tile, X + (size_t)t * x_row_bytes, x_row_bytes, n_in, b,
                                                      facc + (size_t)t * K::kLanes);
    if constexpr (G > 1)
        if (t < nt) token_groups<K, G - 1>(tile, X, x_row_bytes, n_in, b, facc, t, nt);
}

// The MatmulFn contract (kernels.h) for weights of K::Block with ACT_I8_TOKEN activations.
// K provides: Block, kLanes, kGroup, Tile, decode(const uint8_t* const rows[kLanes], int b, Tile&),
// group<G>(...) as above, dot1(rows, b, X, n_in, facc) (one token, the decode fused with the dot),
// finish(const float* facc, float s, float* y, int n_valid).
template <class K>
void matmul(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
            int n_tok, int row0, int row1) {
    constexpr int L = K::kLanes;
    const int nb = n_in / QK_K;
    thread_local std::vector<float> facc;  // (tokens of the chunk, L lanes): the float accumulators
    facc.resize((size_t)kChunk * L);
    for (int tc = 0; tc < n_tok; tc += kChunk) {
        const int nt = std::min(kChunk, n_tok - tc);
        const uint8_t* X = (const uint8_t*)Xq + (size_t)tc * x_row_bytes;
        for (int r = row0; r < row1; r += L) {
            const uint8_t* rows[L];  // a ragged last tile repeats its last row; those lanes are not stored
            for (int i = 0; i < L; i++) rows[i] = (const uint8_t*)W + (size_t)std::min(r + i, row1 - 1) * w_row_bytes;
            std::fill(facc.begin(), facc.begin() + (size_t)nt * L, 0.0f);
            // The weights kPrefetchBytes ahead, prefetched a slice per block: a tile reads its
            // rows block by block with a stride of w_row_bytes, a pattern the hardware prefetchers
            // follow poorly (decode from DRAM ran at a third of the bandwidth without this).
            const uint8_t* tile_end = (const uint8_t*)W + (size_t)std::min(r + L, row1) * w_row_bytes;
            const uint8_t* region_end = (const uint8_t*)W + (size_t)row1 * w_row_bytes;
            const size_t pf_slice = ((size_t)L * w_row_bytes / nb + 63) / 64 * 64;
            for (int b = 0; b < nb; b++) {
                for (const uint8_t* p = tile_end + kPrefetchBytes + b * pf_slice;
                     p < tile_end + kPrefetchBytes + (b + 1) * pf_slice && p < region_end; p += 64)
                    __builtin_prefetch(p);
                if (nt == 1) {  // decode: the codes meet their activations straight from the registers
                    K::dot1(rows, b, X, n_in, facc.data());
                    continue;
                }
                typename K::Tile tile;
                K::decode(rows, b, tile);
                token_groups<K, K::kGroup>(tile, X, x_row_bytes, n_in, b, facc.data(), 0, nt);
            }
            for (int t = 0; t < nt; t++) {
                float s;
                std::memcpy(&s, X + (size_t)t * x_row_bytes + i8_token_scale_offset(n_in), 4);
                K::finish(&facc[(size_t)t * L], s, Y + (size_t)(tc + t) * ldy + r, std::min(L, row1 - r));
            }
        }
    }
}

// Which T[k] a decoded 4-code group belongs to (k = first value / 4), per packed dword column.
// TQ2_0: dword c of qs (bytes 4c .. 4c+3), bit pair l -> values 128 (c / 8) + 32 l + 4 (c % 8) ...
constexpr int tq2_0_k(int c, int l) { return 32 * (c / 8) + 8 * l + (c % 8); }
// TQ1_0: dword c of qs (c < 12) or qh (c = 12), base-3 digit n:
//   c < 8: values 32 n + 4 c ...;  8 <= c < 12: values 160 + 16 n + 4 (c - 8) ...;  c = 12: values 240 + 4 n ...
constexpr int tq1_0_k(int c, int n) { return c < 8 ? 8 * n + c : c < 12 ? 40 + 4 * n + (c - 8) : 60 + n; }

}  // namespace edgeq::ternary
