// TL2D: EDGEQ_TL2's lookup-table idea (kernels/ternary_lut.h: triples of ternary weights as a
// 4-bit pattern index + a sign bit, tables of exact int16 partial sums of int8 activations) laid
// out for AVX-512 VBMI + VNNI. Where TL2 puts one row per byte lane (so every looked-up byte pair
// must be unpacked to int16 and added, ~14 vector ops per 64 rows per triple), TL2D puts FOUR
// triples of one row in each 32-bit lane: one vpermi2b looks up four different triples' tables
// at once, and one vpdpbusd adds the four looked-up bytes of each row into that row's int32 sum.
// ~8 vector ops per 64 row-triples, no unpacking, no horizontal sums: measured 1.6x TL2's
// throughput in cache on the development machine (bench/README.md). Made at load time from
// TQ2_0 / TQ1_0 (or TL2's sources) by tl::pack_dword; never in a file. Same results, bit for bit,
// as the TQ reference on the matrix it came from (the arithmetic below is TL2's).
//
// ---- Weights ------------------------------------------------------------------------------------
// A row: ternary t_k in {-1, 0, 1} times one fp16 scale d per row (as TL2). Each 256-value block
// is cut into 88 triples: TL2's 86 (triple j < 85: values 3j..3j+2; 85: (value 255, 0, 0)) and two
// all-zero triples 86, 87 that pad the block to 11 octets of 8. Triple j is stored as TL2 stores it
// (idx = |c3 - 13| in 0..13, neg = c3 < 13) in octet o = j / 8, half h = (j % 8) / 4, slot s = j % 4.
//
// Tiles of 64 rows (n_out padded with zero rows), each tile_bytes(n_in) contiguous bytes:
//   for each block b (nb of them), kBlockBytes = 3520:
//     for each octet o (11), for each group g of 16 rows (4), kGroupBytes = 80:
//       idx[64]   byte 4 rr + s (rr: row 16 g + rr): idx of triple 8o+s (low nibble) | idx of
//                 triple 8o+4+s (high nibble)
//       sgn[2][8] 64-bit little-endian masks, half h: bit 4 rr + s = neg of triple 8o+4h+s
//   d[64]         fp16 scale of each row (0 for padding rows)
// Bytes: 55 nb + 2 per row: 1.7266 bits per weight at n_in = 2560 (TL2: 1.69375, TQ2_0: 2.0625).
//
// ---- Activations (ACT_I8_LUT3S) -----------------------------------------------------------------
// The ACT_I8_TOKEN row (kernels.h), then for each block b, octet o, half h: 256 bytes
//   loA[64] loB[64] hiA[64] hiB[64]
// loA byte 32 s + 16 n + i (s = 0, 1) and loB byte 32 (s - 2) + 16 n + i (s = 2, 3) hold the low
// byte, hiA / hiB the high byte (signed) of the int16 v = (n ? -1 : 1) * pattern(i) . q(triple
// 8o+4h+s), entries i >= 14 zero. So the 7-bit index 32 s + 16 neg + idx selects exactly the signed
// value of the triple in slot s from the 128 bytes loA|loB (vpermi2b), and a row's four slots
// lie in one 32-bit lane. 5632 table bytes per 256 activations.
//
// ---- Matmul --------------------------------------------------------------------------------------
// For output (t, r), as TL2 and the TQ reference: isum_b = sum_j v(triple j) exactly (a row's
// low bytes summed as unsigned, its high bytes as signed * 256: |isum_b| <= 256 * 127),
// acc = fmaf(d, (float)isum_b, acc) over blocks in order, y = acc / s_t.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/kernels.h"
#include "kernels/ternary_lut.h"

namespace edgeq::tld {

constexpr int kTileRows = 64;
constexpr int kGroupRows = 16;  // rows per 32-bit-lane vector (one zmm)
constexpr int kGroups = kTileRows / kGroupRows;
constexpr int kOctets = 11;
constexpr int kTriples = 8 * kOctets;  // 88: TL2's 86 + two zero triples
constexpr size_t kGroupBytes = 64 + 16;
constexpr size_t kBlockBytes = (size_t)kOctets * kGroups * kGroupBytes;  // 3520 = 64 * 55
constexpr size_t kHalfTableBytes = 256;                                  // loA loB hiA hiB
constexpr size_t kBlockTableBytes = (size_t)kOctets * 2 * kHalfTableBytes;  // 5632

inline size_t row_bytes(int n_in) { return (size_t)(n_in / QK_K) * (kBlockBytes / kTileRows) + 2; }
inline size_t tile_bytes(int n_in) { return kTileRows * row_bytes(n_in); }
inline size_t scales_offset(int n_in) { return (size_t)(n_in / QK_K) * kBlockBytes; }  // in a tile
inline size_t tables_offset(int n) { return act_row_bytes(ACT_I8_TOKEN, n); }

// Where triple j of row rr (0..63) of a block lives: its index byte (nibble j % 8 / 4) and the
// 64-bit sign mask (bit sign_bit).
inline size_t idx_offset(int j, int rr) {
    return ((size_t)(j / 8) * kGroups + rr / kGroupRows) * kGroupBytes + 4 * (rr % kGroupRows) + j % 4;
}
inline size_t sign_offset(int j, int rr) {
    return ((size_t)(j / 8) * kGroups + rr / kGroupRows) * kGroupBytes + 64 + 8 * ((j % 8) / 4);
}
inline int sign_bit(int j, int rr) { return 4 * (rr % kGroupRows) + j % 4; }
// Table byte of (triple j, neg, idx) in a block's tables; + 128 for the high byte.
inline size_t table_offset(int j, int neg, int idx) {
    const int s = j % 4;
    return ((size_t)(j / 8) * 2 + (j % 8) / 4) * kHalfTableBytes + (s / 2) * 64 + 32 * (s % 2) + 16 * neg + idx;
}

// The three activation values of triple j (< 86) of a 256-block q; triples 86, 87 are zero.
inline void triple_values(const int8_t* q, int j, int v[3]) {
    v[0] = j < tl::kTriples - 1 ? q[3 * j] : j == tl::kTriples - 1 ? q[QK_K - 1] : 0;
    v[1] = j < tl::kTriples - 1 ? q[3 * j + 1] : 0;
    v[2] = j < tl::kTriples - 1 ? q[3 * j + 2] : 0;
}

}  // namespace edgeq::tld

namespace edgeq::tl {
// TQ2_0 / TQ1_0 / a reference-dequantizable matrix (n_out, n_in) -> TL2D at out
// (weight_matrix_bytes(EDGEQ_TL2D, ...) bytes, which it zeroes first: the packer ORs bits in);
// "" or why it cannot be lossless (as pack).
std::string pack_dword(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out);
// pack or pack_dword, by the layout type (EDGEQ_TL2 or EDGEQ_TL2D).
std::string pack_layout(uint32_t layout, uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out,
                        uint8_t* out);
}  // namespace edgeq::tl
