// The x16 layouts: weight blocks (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) of 16 rows interleaved so that a
// SIMD register holds the same 4 values of 16 rows (lane i = row i). One integer multiply-add of
// 4 weight bytes per lane with 4 activation bytes broadcast to every lane (AVX-512 vpdpbusd)
// then gives each row its own int32 sum, with no horizontal reductions, and the 16 rows' scales
// load as one fp16 vector. Made from the GGUF blocks at load time (model/interleave_layout.cpp),
// never read from or written to a file.
//
// Matrix: n_out rows rounded up to groups of kRows (the padding rows are blocks of zero bytes: all
// scales and codes 0). Group g starts at byte g * kRows * row_bytes (row_bytes =
// weight_row_bytes(x16 type, n_in): nb * block bytes of the base type, except Q4_Kx16's 148 per
// super-block); inside a group, tile b (the 16 rows' block b, b = 0 .. nb-1) starts at
// b * tile_bytes(x16 type), tile_bytes = kRows * row_bytes / nb. A tile, lane i = row i of the group:
//   Q4_0x16 (288 B): qs[4][16] u32 | d[16] fp16
//   Q4_1x16 (320 B): qs[4][16] u32 | d[16] fp16 | m[16] fp16
//   Q5_0x16 (352 B): qs[4][16] u32 | qh[8] u64 | d[16] fp16
//   Q8_0x16 (544 B): qs[8][16] u32 | d[16] fp16
//   Q4_Kx16 (2368 B): sc[8][16] u8 | m[8][16] u8 | d[16] fp16 | dmin[16] fp16 | qs[32][16] u32
//   Q6_Kx16 (3360 B): sc[16][16] i8 | d[16] fp16 | 2 x (qh[8][16] u32 | ql[16][16] u32)
// (scales first, quants in the order the kernels read them: each tile streams front to back,
// which the hardware prefetchers need; measured on Q6_Kx16 from DRAM: 8 GB/s out of order.)
// Q4 / Q5: qs[j][i] = bytes 4j .. 4j+3 of row i's qs (nibbles: values 4j+k low, 4j+16+k high), so
//   register j & 15 holds values 4j .. 4j+3 and (j >> 4) & 15 values 4j+16 .. 4j+19: "group" G
//   (G = 0 .. 7) of 4 values 4G .. 4G+3 is the low nibbles of qs[G] for G < 4, else the high
//   nibbles of qs[G - 4].
// Q5_0: bit 4i+k of qh[G] = bit 4G+k of row i's qh (bit 4 of value 4G+k of row i): a 64-bit
//   byte mask over the unpacked register of group G.
// Q8_0: qs[G][i] = bytes 4G .. 4G+3 of row i's qs, each stored as q + 128 (an unsigned byte).
// Q4_K: qs[k][i] = bytes 4k .. 4k+3 of row i's qs: sub-block j (values 32j .. 32j+31) is the low
//   nibbles of qs[8 (j/2) .. 8 (j/2) + 7] for even j, the high nibbles for odd j, 4 values each;
//   sc[j][i], m[j][i]: row i's six-bit scale and min of sub-block j, unpacked to bytes.
// Q6_K: ql[k][i], qh[k][i] = bytes 4k .. 4k+3 of row i's ql, qh, stored in the order the kernels
//   read them: half h (values 128h ..) holds qh[8h .. 8h+7] then ql[16h .. 16h+15]; sc[s][i] =
//   row i's scales[s].
//   The 4 values 16s + 4g .. 16s + 4g + 3 (sub-block s, g < 4; h = s / 8, u = (s % 8) / 2,
//   l4 = 4 (s % 2) + g) have their low 4 bits in ql[16h + 8 (u & 1) + l4] (high nibbles if u >= 2)
//   and their top 2 bits at bits 2u, 2u+1 of each byte of qh[8h + l4].
#pragma once
#include <cstddef>
#include <cstdint>

#include "edgeq/quant_types.h"

namespace edgeq::x16 {

constexpr int kRows = 16;
constexpr size_t kQ4KRowBlockBytes = 148;  // Q4_Kx16 bytes per row and super-block (144 in the file)
// Byte offsets inside a Q4_Kx16 / Q6_Kx16 tile (see above); Q6_K half h starts at kQ6KQ + h kQ6KHalf.
constexpr size_t kQ4KSc = 0, kQ4KM = 128, kQ4KD = 256, kQ4KDmin = 288, kQ4KQs = 320;
constexpr size_t kQ6KSc = 0, kQ6KD = 256, kQ6KQ = 288, kQ6KHalf = 1536, kQ6KQl = 512;

// EDGEQ_*X16 for a base type that has an x16 layout, else 0; and back (0 if not an x16 type).
uint32_t interleaved_type(uint32_t base);
uint32_t base_type(uint32_t x16_type);

// Bytes of one tile (16 rows x one block) of an x16 type.
size_t tile_bytes(uint32_t x16_type);

// W (n_out rows of `base`, row_bytes apart) -> the x16 layout in dst, which holds
// weight_matrix_bytes(interleaved_type(base), n_in, n_out) zeroed bytes (the padding rows are
// packed as all-zero blocks).
void pack(uint32_t base, const uint8_t* W, size_t row_bytes, int n_in, int n_out, uint8_t* dst);

// Row r of an x16 matrix of rows of n_in values -> that row's GGUF blocks in `row`.
void unpack_row(uint32_t x16_type, const uint8_t* packed, int n_in, int r, uint8_t* row);

}  // namespace edgeq::x16
