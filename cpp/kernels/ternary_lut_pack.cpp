// Ternary matrices -> the EDGEQ_TL2 layout (kernels/ternary_lut.h) or its AVX-512 sibling EDGEQ_TL2D
// (kernels/ternary_lut_dword.h), at load time.
// Each row becomes t_k in {-1, 0, 1} and one fp16 scale d with w_k = d t_k exactly, then tiles of
// 64 rows are packed as triple indices and sign bits. A row converts only if that is lossless
// for the TQ reference's arithmetic: every non-zero block has the same |d| (a block's sign is
// folded into its t, which leaves every fma of the reference unchanged), all scales are finite,
// and every code is ternary.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/ref/ternary_codes.h"
#include "kernels/ternary_lut.h"
#include "kernels/ternary_lut_dword.h"

namespace edgeq::tl {
namespace {

std::string fmt(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Keeps the first non-zero |scale| of a row and rejects a different one. Scales as fp16 bits.
struct RowScale {
    ggml_half abs_bits = 0;
    int first_block = -1;
    std::string check(ggml_half abs, int b, const char* what) {
        if (first_block < 0) {
            abs_bits = abs;
            first_block = b;
            return "";
        }
        if (abs == abs_bits) return "";
        return std::string(what) + " " + std::to_string(b) + " has scale " + fmt(fp16_to_fp32(abs)) + " but " + what +
               " " + std::to_string(first_block) + " has " + fmt(fp16_to_fp32(abs_bits)) +
               ": one scale per row would not be lossless";
    }
};

// Block b of a TQ2_0 / TQ1_0 row through its codes: t = sign(d) (c - 1), all 0 when d is 0.
template <typename Block, void (*Codes)(const Block&, uint8_t*)>
std::string tq_block(const uint8_t* row, int b, int8_t* t, RowScale& scale) {
    const Block& blk = ((const Block*)row)[b];
    const ggml_half abs = blk.d & 0x7fff;
    if (!std::isfinite(fp16_to_fp32(blk.d))) return "block " + std::to_string(b) + " has a non-finite scale";
    uint8_t c[QK_K];
    Codes(blk, c);
    const int sign = (blk.d & 0x8000) ? -1 : 1;
    int any = 0, bad = 0;
    for (int k = 0; k < QK_K; k++) {
        t[k] = (int8_t)(abs ? sign * (c[k] - 1) : 0);
        any |= c[k] != 1;
        bad |= c[k] == 3;
    }
    if (bad) return "block " + std::to_string(b) + " holds code 3 (+2 d): not ternary";
    return any && abs ? scale.check(abs, b, "block") : "";
}

// Values 256 b .. 256 b + 255 of a row dequantized by another type's reference: 0 or +-s for one fp16 s.
std::string float_block(const float* row, int b, int8_t* t, RowScale& scale) {
    for (int k = b * QK_K; k < (b + 1) * QK_K; k++) {
        const float a = std::fabs(row[k]);
        if (!std::isfinite(a)) return "value " + std::to_string(k) + " is not finite";
        t[k - b * QK_K] = (int8_t)(row[k] > 0 ? 1 : row[k] < 0 ? -1 : 0);
        if (a == 0.0f) continue;
        const ggml_half h = fp32_to_fp16(a);
        if (fp16_to_fp32(h) != a) return "value " + std::to_string(k) + " (" + fmt(row[k]) + ") is no fp16 scale";
        const std::string why = scale.check(h, k, "value");
        if (!why.empty()) return why;
    }
    return "";
}

// Triple j of a block's values u[258] (the block's ternary values and two zeros: triple j is
// u[3j .. 3j+2], triple 85 = (value 255, 0, 0)) -> its index nibble and sign bit.
void triple_code(const int8_t* u, int j, uint8_t& idx, uint8_t& neg) {
    const int c = 9 * u[3 * j] + 3 * u[3 * j + 1] + u[3 * j + 2];  // c3 - 13
    idx = (uint8_t)(c < 0 ? -c : c);
    neg = c < 0;
}

// TL2: row r of a tile, one block (idx / sgn: the block's index and sign planes).
void pack_row_block(const int8_t* u, int r, uint8_t* blk) {
    uint8_t ix[kTriples + 2] = {}, neg[kSignGroups * 8] = {};
    for (int j = 0; j < kTriples; j++) triple_code(u, j, ix[j], neg[j]);
    uint8_t* idx = blk;
    uint8_t* sgn = blk + kIdxBytes;
    for (int p = 0; p < kPairs; p++) idx[p * kTileRows + r] = (uint8_t)(ix[2 * p] | (ix[2 * p + 1] << 4));
    for (int g = 0; g < kSignGroups; g++) {
        int bits = 0;
        for (int e = 0; e < 8; e++) bits |= neg[8 * g + e] << e;
        sgn[g * kTileRows + r] = (uint8_t)bits;
    }
}

// TL2D (ternary_lut_dword.h): row r of a tile, one block; the padding triples 86, 87 stay zero.
// Per octet and half: the row's four slots' index nibbles and its four sign bits (bits 4 rr + s
// of the half's mask: byte rr / 2, nibble rr % 2).
void pack_row_block_dword(const int8_t* u, int r, uint8_t* blk) {
    const int g = r / tld::kGroupRows, rr = r % tld::kGroupRows;
    for (int o = 0; o < tld::kOctets; o++) {
        uint8_t* grp = blk + ((size_t)o * tld::kGroups + g) * tld::kGroupBytes;
        for (int h = 0; h < 2; h++) {
            unsigned signs = 0;
            for (int s = 0; s < 4; s++) {
                const int j = 8 * o + 4 * h + s;
                uint8_t ix = 0, neg = 0;
                if (j < kTriples) triple_code(u, j, ix, neg);
                grp[4 * rr + s] |= (uint8_t)(ix << (4 * h));
                signs |= (unsigned)neg << s;
            }
            grp[64 + 8 * h + rr / 2] |= (uint8_t)(signs << (4 * (rr % 2)));
        }
    }
}

// The loop both layouts share: tiles of 64 rows, each row's blocks through its ternary values
// (checked lossless), written by write(u, r, block bytes); the rows' fp16 scales after the blocks.
template <class WriteRowBlock>
std::string pack_tiles(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out,
                       size_t tile_bytes, size_t block_bytes, size_t scales_offset, WriteRowBlock write) {
    if (n_in <= 0 || n_in % QK_K != 0) return "row length " + std::to_string(n_in) + " is not a multiple of 256";
    if (n_out <= 0) return "no rows";
    const bool tq = type == GGML_TQ2_0 || type == GGML_TQ1_0;
    const DequantizeRowFn deq = type < (uint32_t)kNumGgmlTypes ? kernels_for("ref").dequantize_row[type] : nullptr;
    if (!tq && !deq) return std::string("type ") + ggml_type_name(type) + " has no reference dequantizer";
    std::vector<float> rows(tq ? 0 : (size_t)kTileRows * n_in);  // other types: the tile's rows dequantized
    const int nb = n_in / QK_K;
    for (int r0 = 0; r0 < n_out; r0 += kTileRows) {
        const int n_rows = std::min(kTileRows, n_out - r0);
        uint8_t* tile = out + (size_t)(r0 / kTileRows) * tile_bytes;
        for (int r = 0; r < n_rows && !tq; r++) deq(W + (size_t)(r0 + r) * w_row_bytes, &rows[(size_t)r * n_in], n_in);
        RowScale scale[kTileRows];
        for (int b = 0; b < nb; b++) {
            for (int r = 0; r < kTileRows; r++) {
                int8_t u[QK_K + 2] = {};  // rows past n_out: zero
                if (r < n_rows) {
                    const uint8_t* row = W + (size_t)(r0 + r) * w_row_bytes;
                    const std::string why =
                        type == GGML_TQ2_0   ? tq_block<block_tq2_0, ref::tq2_0_codes>(row, b, u, scale[r])
                        : type == GGML_TQ1_0 ? tq_block<block_tq1_0, ref::tq1_0_codes>(row, b, u, scale[r])
                                             : float_block(&rows[(size_t)r * n_in], b, u, scale[r]);
                    if (!why.empty()) return "row " + std::to_string(r0 + r) + ": " + why;
                }
                write(u, r, tile + (size_t)b * block_bytes);
            }
        }
        ggml_half d[kTileRows];
        for (int r = 0; r < kTileRows; r++) d[r] = scale[r].abs_bits;
        std::memcpy(tile + scales_offset, d, sizeof d);
    }
    return "";
}

}  // namespace

std::string pack(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out) {
    return pack_tiles(type, W, w_row_bytes, n_in, n_out, out, tile_bytes(n_in), kBlockBytes, scales_offset(n_in),
                      pack_row_block);
}

std::string pack_layout(uint32_t layout, uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out,
                        uint8_t* out) {
    if (layout == EDGEQ_TL2) return pack(type, W, w_row_bytes, n_in, n_out, out);
    if (layout == EDGEQ_TL2D) return pack_dword(type, W, w_row_bytes, n_in, n_out, out);
    return std::string(ggml_type_name(layout)) + " is not a ternary lookup-table layout";
}

std::string pack_dword(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out) {
    if (n_in > 0 && n_in % QK_K == 0 && n_out > 0)  // the writer ORs bits in: start from zero
        std::memset(out, 0, weight_matrix_bytes(EDGEQ_TL2D, n_in, n_out));
    return pack_tiles(type, W, w_row_bytes, n_in, n_out, out, tld::tile_bytes(n_in), tld::kBlockBytes,
                      tld::scales_offset(n_in), pack_row_block_dword);
}

}  // namespace edgeq::tl
