// Shared AVX2 building blocks for matmul kernels: horizontal sums and the tile driver that
// walks Y (n_tok, rows [row0, row1)) in register tiles of R weight rows x T tokens, with
// smaller instantiations for the ragged edges. Included only by files compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace edgeq::avx2 {

// Sum of the 8 lanes of v.
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Everything a tile needs. Kernels that precompute per-call data (activation scales as floats,
// scratch space) pass it in the extra pointers.
struct TileArgs {
    const uint8_t* W;      // n_out rows, w_row_bytes apart
    size_t w_row_bytes;
    const uint8_t* X;      // n_tok activation rows, x_row_bytes apart
    size_t x_row_bytes;
    float* Y;              // Y[t * ldy + r]
    size_t ldy;
    int n_in;
    const float* xd = nullptr;  // per token and block: activation scale d (n_tok, n_in / 32)
    const float* xs = nullptr;  // per token and block: activation s (Q8_1), same shape
    float* scratch = nullptr;   // kernel-specific per-call scratch
};

// K::tile<R, T>(args, r, t) computes Y for rows r .. r+R-1 and tokens t .. t+T-1.
template <class K, int R, int T>
inline void token_tail(const TileArgs& a, int r, int t, int nt) {  // 0 < nt < T tokens left
    if constexpr (T > 1) {
        if (nt == T - 1) K::template tile<R, T - 1>(a, r, t);
        else token_tail<K, R, T - 1>(a, r, t, nt);
    }
}

template <class K, int R, int T>
inline void row_tile(const TileArgs& a, int r, int n_tok) {
    int t = 0;
    for (; t + T <= n_tok; t += T) K::template tile<R, T>(a, r, t);
    if (t < n_tok) token_tail<K, R, T>(a, r, t, n_tok - t);
}

template <class K, int R, int T>
inline void row_tail(const TileArgs& a, int r, int nr, int n_tok) {  // 0 < nr < R rows left
    if constexpr (R > 1) {
        if (nr == R - 1) row_tile<K, R - 1, T>(a, r, n_tok);
        else row_tail<K, R - 1, T>(a, r, nr, n_tok);
    }
}

// All of Y (n_tok, [row0, row1)): full R x T tiles, then the ragged rows / tokens.
// Row tiles are the outer loop, so one tile's weight rows stay in L1 while the tokens pass.
template <class K, int R, int T>
void for_each_tile(const TileArgs& a, int n_tok, int row0, int row1) {
    int r = row0;
    for (; r + R <= row1; r += R) row_tile<K, R, T>(a, r, n_tok);
    if (r < row1) row_tail<K, R, T>(a, r, row1 - r, n_tok);
}

}  // namespace edgeq::avx2
