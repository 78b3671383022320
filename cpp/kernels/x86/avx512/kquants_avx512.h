// Shared pieces of the AVX-512 VNNI K-quant kernels (q8k_pack.cpp, q4k.cpp, q6k.cpp).
// Compiled only into the AVX-512 files; everything lives in edgeq::avx512::kq (no inline function
// here may be shared with a file compiled for a lower ISA).
//
// The integer core per 64 values: vpmaddubsw (u8 code x s8 activation -> s16 pair sums) then
// vpdpwssd (s16 pair sums x s16 sub-block scale, accumulated into s32): two instructions where
// AVX2 needs three for half the values.
#pragma once
// GCC 12 warns about the self-initialized _mm512_undefined_*() inside avx512fintrin.h wherever
// an intrinsic that uses it is inlined; a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/avx512/avx512.h"

namespace edgeq::avx512::kq {

// ---- GEMM tiling --------------------------------------------------------------------------------
// One register tile is kTileRows weight rows x kTileTok tokens = 16 float lanes, lane 4 t + s for
// token t and row slot s (so the 4 rows of one token are adjacent, as in Y). 16 int32x16
// accumulators per super-block; a super-block is unpacked once per chunk of kChunkGroups token
// groups (32 tokens).
constexpr int kTileRows = 4;
constexpr int kTileTok = 4;
constexpr int kChunkGroups = 8;

// Q8_K activations of kTileTok tokens for one super-block. Tokens past n_tok are zero.
struct alignas(64) Q8KPack {
    int8_t qs[4][kTileTok][64];  // [64-value part v][token][value]
    float d[16];                 // lane 4 t + s: d of token t
    float bs32[8][16];           // [sub-block j of 32][lane 4 t + s]: bsums[2 j] + bsums[2 j + 1] of token t
    int16_t bs16[kTileTok][16];  // [token][sub-block of 16]: bsums
};

// Tokens [t0, t0 + kTileTok) of Xq (n_tok rows, x_row_bytes apart), all nb super-blocks -> out[nb].
void pack_q8K(const void* Xq, size_t x_row_bytes, int n_tok, int t0, int nb, Q8KPack* out);

void register_q4_K(KernelTable& t);
void register_q6_K(KernelTable& t);

// ---- Vector helpers -----------------------------------------------------------------------------
// v[k] (int32 x 16 each, k = 4 s + t) -> lane 4 t + s = sum of the 16 lanes of v[4 s + t].
inline __m512i reduce16_epi32(const __m512i v[16]) {
    __m512i c[8], e[4];
    for (int i = 0; i < 8; i++)  // [v[2i] folded to 8 lanes | v[2i+1] folded to 8 lanes]
        c[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int m = 0; m < 4; m++)  // 128-bit chunk q: v[4m + q] folded to 4 lanes
        e[m] = _mm512_add_epi32(_mm512_shuffle_i64x2(c[2 * m], c[2 * m + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                _mm512_shuffle_i64x2(c[2 * m], c[2 * m + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    // 4x4 transpose-and-add inside each chunk q: lane m of chunk q = sum of e[m] chunk q = v[4m + q].
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(e[0], e[1]), _mm512_unpackhi_epi32(e[0], e[1]));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(e[2], e[3]), _mm512_unpackhi_epi32(e[2], e[3]));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

// The integer core of a tile: isum[4 s + t] += sum_v dpwssd(maddubs(q[s][v], x_t[v]), sc[s][v]).
inline void tile_isum(const __m512i q[kTileRows][4], const __m512i sc[kTileRows][4], const Q8KPack& x,
                      __m512i isum[16]) {
#pragma GCC unroll 1
    for (int v = 0; v < 4; v++) {
        __m512i x8[kTileTok];
        for (int t = 0; t < kTileTok; t++) x8[t] = _mm512_load_si512((const void*)x.qs[v][t]);
        for (int s = 0; s < kTileRows; s++) {
            const __m512i w = q[s][v], scale = sc[s][v];
            for (int t = 0; t < kTileTok; t++)
                isum[4 * s + t] = _mm512_dpwssd_epi32(isum[4 * s + t], _mm512_maddubs_epi16(w, x8[t]), scale);
        }
    }
}

// ---- The prompt GEMM driver (as avx2's, with 4-row tiles) ---------------------------------------
// K provides Block, Tile, unpack(const Block* const rows[kTileRows], Tile&) and
// __m512 dot(const Tile&, const Q8KPack&, __m512 acc).
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
            const int nr = std::min(kTileRows, row1 - r);  // ragged tail: missing slots repeat row r
            const typename K::Block* rows[kTileRows];
            for (int s = 0; s < kTileRows; s++)
                rows[s] = (const typename K::Block*)((const uint8_t*)W + (size_t)(s < nr ? r + s : r) * w_row_bytes);
            __m512 acc[kChunkGroups];
            for (int g = 0; g < ng; g++) acc[g] = _mm512_setzero_ps();
            for (int b = 0; b < nb; b++) {
                typename K::Tile tile;
                const typename K::Block* rb[kTileRows];
                for (int s = 0; s < kTileRows; s++) rb[s] = rows[s] + b;
                K::unpack(rb, tile);
                for (int g = 0; g < ng; g++) acc[g] = K::dot(tile, pack[(size_t)g * nb + b], acc[g]);
            }
            for (int g = 0; g < ng; g++) {
                alignas(64) float lanes[16];
                _mm512_store_ps(lanes, acc[g]);
                for (int t = 0; t < kTileTok; t++) {
                    const int tok = (g0 + g) * kTileTok + t;
                    if (tok >= n_tok) break;
                    for (int s = 0; s < nr; s++) Y[(size_t)tok * ldy + r + s] = lanes[4 * t + s];
                }
            }
        }
    }
}

}  // namespace edgeq::avx512::kq
