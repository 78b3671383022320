// The ISA-neutral tile driver of the matmul kernels: walks Y (n_tok, rows [row0, row1)) in
// register tiles of R weight rows x T tokens, with smaller instantiations for the ragged edges.
// No intrinsics here: each ISA's kernel class K (in that ISA's namespace, compiled with its
// flags) supplies K::tile<R, T>, so every instantiation is distinct per ISA.
#pragma once
#include <cstddef>
#include <cstdint>

namespace edgeq::tiles {

// Everything a tile needs. Kernels that precompute per-call data (activation scales as floats)
// pass it in the extra pointers.
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

}  // namespace edgeq::tiles
