// Ternary matrices -> the EDGEQ_TL2 layout (kernels/ternary_lut.h), at load time.
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

// A TQ2_0 / TQ1_0 row through its codes: t = sign(d) (c - 1), zero in blocks whose d is 0.
template <typename Block, int (*Code)(const Block&, int)>
std::string tq_row(const uint8_t* row, int n_in, int8_t* t, ggml_half* d) {
    const Block* blocks = (const Block*)row;
    RowScale scale;
    for (int b = 0; b < n_in / QK_K; b++) {
        const ggml_half h = blocks[b].d;
        const ggml_half abs = h & 0x7fff;
        if (!std::isfinite(fp16_to_fp32(h))) return "block " + std::to_string(b) + " has a non-finite scale";
        const int sign = (h & 0x8000) ? -1 : 1;
        bool nonzero = false;
        for (int k = 0; k < QK_K; k++) {
            const int c = Code(blocks[b], k);
            if (c == 3) return "block " + std::to_string(b) + " holds code 3 (+2 d): not ternary";
            t[b * QK_K + k] = (int8_t)(abs ? sign * (c - 1) : 0);
            nonzero |= c != 1;
        }
        if (nonzero && abs) {
            const std::string why = scale.check(abs, b, "block");
            if (!why.empty()) return why;
        }
    }
    *d = scale.abs_bits;
    return "";
}

// Any other type through its reference dequantizer: every value must be 0 or +-s for one fp16 s.
std::string float_row(DequantizeRowFn deq, const uint8_t* row, int n_in, int8_t* t, ggml_half* d, float* buf) {
    deq(row, buf, n_in);
    RowScale scale;
    for (int k = 0; k < n_in; k++) {
        const float a = std::fabs(buf[k]);
        if (!std::isfinite(a)) return "value " + std::to_string(k) + " is not finite";
        t[k] = (int8_t)(buf[k] > 0 ? 1 : buf[k] < 0 ? -1 : 0);
        if (a == 0.0f) continue;
        const ggml_half h = fp32_to_fp16(a);
        if (fp16_to_fp32(h) != a) return "value " + std::to_string(k) + " (" + fmt(buf[k]) + ") is no fp16 scale";
        const std::string why = scale.check(h, k, "value");
        if (!why.empty()) return why;
    }
    *d = scale.abs_bits;
    return "";
}

// t (64 rows of n_in, n_in apart) and d[64] -> one tile.
void pack_tile(const int8_t* t, const ggml_half* d, int n_in, uint8_t* tile) {
    std::memset(tile, 0, tile_bytes(n_in) - 2 * kTileRows);
    for (int b = 0; b < n_in / QK_K; b++) {
        uint8_t* idx = tile + (size_t)b * kBlockBytes;
        uint8_t* sgn = idx + kIdxBytes;
        for (int r = 0; r < kTileRows; r++) {
            const int8_t* v = t + (size_t)r * n_in + (size_t)b * QK_K;
            for (int j = 0; j < kTriples; j++) {
                const bool last = j == kTriples - 1;  // (value 255, 0, 0)
                const int a = v[last ? QK_K - 1 : 3 * j], bb = last ? 0 : v[3 * j + 1], c = last ? 0 : v[3 * j + 2];
                const int c3 = 9 * (a + 1) + 3 * (bb + 1) + (c + 1);
                idx[(j / 2) * kTileRows + r] |= (uint8_t)(std::abs(c3 - 13) << (4 * (j % 2)));
                sgn[(j / 8) * kTileRows + r] |= (uint8_t)((c3 < 13) << (j % 8));
            }
        }
    }
    std::memcpy(tile + scales_offset(n_in), d, 2 * kTileRows);
}

}  // namespace

std::string pack(uint32_t type, const uint8_t* W, size_t w_row_bytes, int n_in, int n_out, uint8_t* out) {
    if (n_in <= 0 || n_in % QK_K != 0) return "row length " + std::to_string(n_in) + " is not a multiple of 256";
    if (n_out <= 0) return "no rows";
    const DequantizeRowFn deq = type < (uint32_t)kNumGgmlTypes ? kernels_for("ref").dequantize_row[type] : nullptr;
    if (type != GGML_TQ2_0 && type != GGML_TQ1_0 && !deq)
        return std::string("type ") + ggml_type_name(type) + " has no reference dequantizer";
    std::vector<int8_t> t((size_t)kTileRows * n_in);
    std::vector<float> buf(n_in);
    ggml_half d[kTileRows];
    for (int r0 = 0; r0 < n_out; r0 += kTileRows) {
        std::fill(t.begin(), t.end(), 0);
        std::fill(d, d + kTileRows, 0);
        for (int r = r0; r < std::min(n_out, r0 + kTileRows); r++) {
            const uint8_t* row = W + (size_t)r * w_row_bytes;
            int8_t* tr = &t[(size_t)(r - r0) * n_in];
            ggml_half* dr = &d[r - r0];
            const std::string why = type == GGML_TQ2_0   ? tq_row<block_tq2_0, ref::tq2_0_code>(row, n_in, tr, dr)
                                    : type == GGML_TQ1_0 ? tq_row<block_tq1_0, ref::tq1_0_code>(row, n_in, tr, dr)
                                                         : float_row(deq, row, n_in, tr, dr, buf.data());
            if (!why.empty()) return "row " + std::to_string(r) + ": " + why;
        }
        pack_tile(t.data(), d, n_in, out + (size_t)(r0 / kTileRows) * tile_bytes(n_in));
    }
    return "";
}

}  // namespace edgeq::tl
