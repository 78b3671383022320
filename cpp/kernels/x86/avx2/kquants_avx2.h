// Shared pieces of the AVX2 K-quant kernels (q8k.cpp, q4k.cpp, q6k.cpp): the packed Q8_K
// activation layout of the prompt GEMM, its tiled driver, and small vector helpers.
// Compiled only into the AVX2 files; everything lives in edgeq::avx2::kq.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2::kq {

// ---- GEMM tiling --------------------------------------------------------------------------------
// One register tile is kTileRows weight rows x kTileTok tokens = 8 float lanes, lane 4 s + t for row
// slot s and token t. Each tile keeps 8 int32x8 accumulators (one per (row, token)) over a
// super-block, unpacks each weight super-block once per chunk of kChunkGroups token groups
// (kTileTok * kChunkGroups = 32 tokens) and reuses it for all of them.
constexpr int kTileRows = 2;
constexpr int kTileTok = 4;
constexpr int kChunkGroups = 8;

// Q8_K activations of kTileTok tokens for one super-block, laid out for the tile loops: the 32
// bytes that meet one weight sub-block are contiguous per token. Tokens past n_tok are zero.
struct alignas(32) Q8KPack {
    int8_t qs[8][kTileTok][32];  // [sub-block j of 32 values][token][value]
    float d[8];                  // lane 4 s + t: d of token t (repeated for both row slots)
    float bs32[8][8];            // [sub-block j of 32][lane 4 s + t]: bsums[2 j] + bsums[2 j + 1] of token t
    int16_t bs16[kTileTok][16];  // [token][sub-block of 16]: bsums
};

// Tokens [t0, t0 + kTileTok) of Xq (n_tok rows, x_row_bytes apart), all nb super-blocks -> out[nb].
void pack_q8K(const void* Xq, size_t x_row_bytes, int n_tok, int t0, int nb, Q8KPack* out);

// Entry points of the per-format files, gathered by register_kquants (kquants.cpp).
void quantize_row_q8_K(const float* x, void* xq, int n);
void register_q4_K(KernelTable& t);
void register_q6_K(KernelTable& t);

// ---- Vector helpers -----------------------------------------------------------------------------
inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
inline float hsum_ps(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// v[k] (int32 x 8 each) -> lane k = sum of the 8 lanes of v[k].
inline __m256i reduce8_epi32(const __m256i v[8]) {
    const __m256i a0 = _mm256_hadd_epi32(v[0], v[1]), a1 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i a2 = _mm256_hadd_epi32(v[4], v[5]), a3 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i b0 = _mm256_hadd_epi32(a0, a1), b1 = _mm256_hadd_epi32(a2, a3);  // per 128-bit half
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// A (8 floats of row slot 0), B (slot 1) -> out[j] = [A[j] x 4, B[j] x 4] (lane 4 s + t layout).
inline void spread_slots(__m256 A, __m256 B, __m256 out[8]) {
    const __m256 lo = _mm256_permute2f128_ps(A, B, 0x20), hi = _mm256_permute2f128_ps(A, B, 0x31);
    out[0] = _mm256_permute_ps(lo, 0x00); out[1] = _mm256_permute_ps(lo, 0x55);
    out[2] = _mm256_permute_ps(lo, 0xAA); out[3] = _mm256_permute_ps(lo, 0xFF);
    out[4] = _mm256_permute_ps(hi, 0x00); out[5] = _mm256_permute_ps(hi, 0x55);
    out[6] = _mm256_permute_ps(hi, 0xAA); out[7] = _mm256_permute_ps(hi, 0xFF);
}

// The integer core of a tile: isum[kTileTok s + t] += sum_j madd(maddubs(q[s][j], x_t[j]), sc[s][j])
// for row slot s, token t, over the 8 sub-blocks of 32 of one super-block. q: unsigned codes
// (< 64, so a maddubs pair sum stays below 2 * 63 * 127 < 2^15); sc: int16 scales per lane.
inline void tile_isum(const __m256i q[kTileRows][8], const __m256i sc[kTileRows][8], const Q8KPack& x,
                      __m256i isum[kTileRows * kTileTok]) {
    static_assert(kTileRows == 2 && kTileTok == 4, "the accumulators below are written out for a 2 x 4 tile");
    // Named accumulators and a rolled j loop: fully unrolled, GCC schedules all 64 products first
    // and spills them to the stack.
    __m256i a0 = isum[0], a1 = isum[1], a2 = isum[2], a3 = isum[3];
    __m256i b0 = isum[4], b1 = isum[5], b2 = isum[6], b3 = isum[7];
#pragma GCC unroll 1
    for (int j = 0; j < 8; j++) {
        const __m256i w0 = q[0][j], w1 = q[1][j], s0 = sc[0][j], s1 = sc[1][j];
        __m256i x8 = _mm256_load_si256((const __m256i*)x.qs[j][0]);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(w0, x8), s0));
        b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(_mm256_maddubs_epi16(w1, x8), s1));
        x8 = _mm256_load_si256((const __m256i*)x.qs[j][1]);
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(w0, x8), s0));
        b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(_mm256_maddubs_epi16(w1, x8), s1));
        x8 = _mm256_load_si256((const __m256i*)x.qs[j][2]);
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(w0, x8), s0));
        b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(_mm256_maddubs_epi16(w1, x8), s1));
        x8 = _mm256_load_si256((const __m256i*)x.qs[j][3]);
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(w0, x8), s0));
        b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(_mm256_maddubs_epi16(w1, x8), s1));
    }
    isum[0] = a0; isum[1] = a1; isum[2] = a2; isum[3] = a3;
    isum[4] = b0; isum[5] = b1; isum[6] = b2; isum[7] = b3;
}

// Hides v from the optimizer so that a mul followed by a sub is not contracted into an FMA
// (GCC contracts vector intrinsics under -ffp-contract=fast); dequantization must round exactly
// like the reference.
inline __m256 opaque(__m256 v) {
    __asm__("" : "+x"(v));
    return v;
}

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// ---- The prompt GEMM driver ---------------------------------------------------------------------
// K provides: Block (the GGUF block struct), Tile (one super-block of kTileRows rows, unpacked),
//   unpack(const Block* row_slot0, const Block* row_slot1, Tile&)
//   __m256 dot(const Tile&, const Q8KPack&, __m256 acc)  -> acc + this super-block's tile products.
// Loop order: token chunks (packed, L2-resident) outside, row pairs, super-blocks, token groups.
template <class K>
void gemm_q8K(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
              int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK_K;
    const int n_groups = (n_tok + kTileTok - 1) / kTileTok;
    thread_local std::vector<Q8KPack> pack;
    pack.resize((size_t)kChunkGroups * nb);
    for (int g0 = 0; g0 < n_groups; g0 += kChunkGroups) {
        const int ng = std::min(kChunkGroups, n_groups - g0);
        for (int g = 0; g < ng; g++) pack_q8K(Xq, x_row_bytes, n_tok, (g0 + g) * kTileTok, nb, &pack[(size_t)g * nb]);
        for (int r = row0; r < row1; r += kTileRows) {
            const int r1 = r + 1 < row1 ? r + 1 : r;  // odd tail: slot 1 repeats row r, not stored
            const auto* w0 = (const typename K::Block*)((const uint8_t*)W + (size_t)r * w_row_bytes);
            const auto* w1 = (const typename K::Block*)((const uint8_t*)W + (size_t)r1 * w_row_bytes);
            __m256 acc[kChunkGroups];
            for (int g = 0; g < ng; g++) acc[g] = _mm256_setzero_ps();
            for (int b = 0; b < nb; b++) {
                typename K::Tile tile;
                K::unpack(w0 + b, w1 + b, tile);
                for (int g = 0; g < ng; g++) acc[g] = K::dot(tile, pack[(size_t)g * nb + b], acc[g]);
            }
            for (int g = 0; g < ng; g++) {
                alignas(32) float lanes[8];
                _mm256_store_ps(lanes, acc[g]);
                for (int t = 0; t < kTileTok; t++) {
                    const int tok = (g0 + g) * kTileTok + t;
                    if (tok >= n_tok) break;
                    Y[(size_t)tok * ldy + r] = lanes[t];
                    if (r1 != r) Y[(size_t)tok * ldy + r1] = lanes[kTileTok + t];
                }
            }
        }
    }
}

}  // namespace edgeq::avx2::kq
