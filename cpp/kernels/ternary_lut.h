// TL2: edgeq's lookup-table layout for ternary weights (BitNet b1.58), bitnet.cpp's TL2 idea in
// edgeq's own layout. Produced at load time from TQ2_0 / TQ1_0 matrices (ternary_lut_pack.cpp);
// an edgeq-internal type (EDGEQ_TL2), never read from or written to a file.
//
// ---- Weights ------------------------------------------------------------------------------------
// A row of n_in values (n_in = 256 nb) is ternary t_k in {-1, 0, 1} times one fp16 scale d per row
// (lossless only when every non-zero 256-block of the row has the same |d|: the packer refuses
// otherwise). Each 256-value block is cut into 86 triples: triples j < 85 are values 3j, 3j+1,
// 3j+2 of the block, triple 85 is (value 255, 0, 0). Triples never cross a block, so the kernels
// can form each block's exact integer sum and keep the TQ reference's float order (below).
//
// A triple (a, b, c) is its base-3 code c3 = 9 (a+1) + 3 (b+1) + (c+1) in 0..26; negating the
// triple maps c3 to 26 - c3, so it is stored as a 4-bit index and a sign bit:
//   idx = |c3 - 13| in 0..13 (the 14 canonical patterns: first non-zero entry +1, or all zero),
//   neg = c3 < 13,   triple = (neg ? -1 : 1) * pattern(idx),  pattern(i) = the triple of code 13 + i.
//
// Rows are grouped in tiles of kTileRows = 64 (n_out padded with zero rows to a multiple of 64).
// Tile T (rows 64T .. 64T+63) is tl_tile_bytes(n_in) = 64 * tl_row_bytes(n_in) contiguous bytes:
//   for each block b (nb of them), kBlockBytes = 3456:
//     idx[43][64]  byte r of pair p: low nibble = idx of triple 2p of row 64T+r, high nibble = triple 2p+1
//     sgn[11][64]  byte r of group g: bit e = neg of triple 8g+e of row 64T+r (group 10: bits 0..5)
//   d[64]          fp16 scale of each row (0 for padding rows)
// So one 64-byte (AVX-512) or 32-byte (AVX2) load serves 64 / 32 rows of one triple pair, and
// pshufb looks up 32 / 64 rows at once. Bytes: 54 nb + 2 per row; a 2560 x 2560 matrix is
// 2560 * 542 bytes = 1.69375 bits per weight (TQ1_0: 1.6875, TQ2_0: 2.0625).
//
// ---- Activations (ACT_I8_LUT3) ------------------------------------------------------------------
// One row of n values = the ACT_I8_TOKEN row (kernels.h: int8 q[n] | float s | bsum | pad), then
// the tables: for each block b, triple j < 86 (in that order) 32 bytes
//   lo[16] | hi[16],   entry i < 14: v = pattern(i) . (q of the triple), lo = v & 0xff, hi = v >> 8
// (entries 14, 15 zero). |q| <= 127 (127 / absmax scaling), so |v| <= 381 fits int16.
//
// ---- Matmul (the MatmulFn contract of kernels.h) ------------------------------------------------
// For output (t, r), exactly as the TQ reference (ref/ternary.cpp) with d_b = +-d:
//   acc = 0.0f
//   for each block b:  isum_b = sum_j (neg ? -1 : 1) * v(idx)  (exact integer, |isum_b| <= 256 * 127)
//                      acc = fmaf(d, (float)isum_b, acc)
//   y = acc / s_t
// so a TL matrix gives the same bits as the TQ matrix it came from. Any [row0, row1) is correct;
// the SIMD kernels compute whole tiles, so callers should split rows on multiples of 64
// (matmul_row_tile(EDGEQ_TL2)); rows of a tile outside [row0, row1) are never written.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/kernels.h"

namespace edgeq::tl {

constexpr int kTileRows = 64;
constexpr int kTriples = 86;     // per 256-value block
constexpr int kPairs = 43;       // idx bytes per row per block (two triples per byte)
constexpr int kSignGroups = 11;  // sign bytes per row per block (eight triples per byte)
constexpr int kPatterns = 14;
constexpr size_t kIdxBytes = (size_t)kPairs * kTileRows;       // 2752
constexpr size_t kSignBytes = (size_t)kSignGroups * kTileRows;  // 704
constexpr size_t kBlockBytes = kIdxBytes + kSignBytes;          // 3456 = 64 * 54
constexpr size_t kTableBytes = 32;                              // one triple's lo[16] | hi[16]
constexpr size_t kBlockTableBytes = kTriples * kTableBytes;     // 2752 per 256 activations

inline size_t row_bytes(int n_in) { return (size_t)(n_in / QK_K) * (kBlockBytes / kTileRows) + 2; }
inline size_t tile_bytes(int n_in) { return kTileRows * row_bytes(n_in); }
inline int padded_rows(int n_out) { return (n_out + kTileRows - 1) / kTileRows * kTileRows; }
inline size_t scales_offset(int n_in) { return (size_t)(n_in / QK_K) * kBlockBytes; }  // in a tile
inline size_t lut3_tables_offset(int n) { return act_row_bytes(ACT_I8_TOKEN, n); }

// The triple of pattern index i (code 13 + i) as three coefficients in {-1, 0, 1}.
constexpr int pattern_coef(int i, int k) { return k == 0 ? (13 + i) / 9 - 1 : k == 1 ? (13 + i) / 3 % 3 - 1 : (13 + i) % 3 - 1; }

// One ACT_I8_LUT3 row of x (n): quantize (an ACT_I8_TOKEN quantizer) writes the row's first part,
// then block_tables(q, tab) fills the 86 tables tab of each 256-value block q of int8 values.
// A template: each ISA's file instantiates it with its own lambda (never shared between ISAs).
template <class BlockTables>
inline void quantize_row_lut3(QuantizeActFn quantize, const float* x, void* xq, int n, BlockTables&& block_tables) {
    quantize(x, xq, n);
    const int8_t* q = (const int8_t*)xq;
    uint8_t* tab = (uint8_t*)xq + lut3_tables_offset(n);
    for (int b = 0; b < n / QK_K; b++) block_tables(q + (size_t)b * QK_K, tab + (size_t)b * kBlockTableBytes);
}

// Packs W (n_out rows of `type`, w_row_bytes apart, n_in % 256 == 0) into `out`
// (padded_rows(n_out) * row_bytes(n_in) bytes, zero-filled by the caller). TQ2_0 and TQ1_0 go
// through their codes; any other type through its reference dequantize_row (exact floats).
// Returns "" on success, else why the conversion would not be lossless (out is then garbage).
std::string pack(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out);

}  // namespace edgeq::tl
