// Scalar reference for the ternary weight types TQ2_0 and TQ1_0 and their per-token int8
// activations (ACT_I8_TOKEN). This file is the spec: the SIMD versions (x86/*/ternary*.cpp) are
// tested against it bit for bit, and it is tested against the `gguf` package's numpy
// dequantizers (tests/python/test_kernels_oracle_ternary.py).
//
// Formats (one block = 256 values, layouts in quant_types.h):
//   TQ2_0, TQ1_0: w = fp16(d) * (c - 1), code c in {0, 1, 2}.
//   ACT_I8_TOKEN (kernels.h): x ~ q / s, one float s per token (bitnet.cpp's quantize_row_i8_s).
//
// Matmul (the contract in kernels.h): Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T.
// For output (t, r), in this order (SIMD kernels reproduce it exactly, one output per lane):
//   acc = 0.0f
//   for each block b (in order):  isum_b = sum_{k in b} (c_k - 1) * q_k       exact int32, |isum_b| <= 2^15
//                                 acc = fmaf(d_b, (float)isum_b, acc)           one rounding per block
//   y = acc / s_t
// (float)isum_b is exact, and a fused multiply-add leaves no room for compiler contraction, so
// every ISA that keeps this order gets the same bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"

namespace edgeq::ref {

// ---- Codes --------------------------------------------------------------------------------------
// Value k (0..255) of a TQ2_0 block as its code c in {0, 1, 2}: k = 128 h + 32 l + m lives in bits
// 2l..2l+1 of qs[32 h + m].
static inline int tq2_0_code(const block_tq2_0& b, int k) {
    const int h = k / 128, l = (k % 128) / 32, m = k % 32;
    return (b.qs[32 * h + m] >> (2 * l)) & 3;
}

// Digit n of a base-3 fixed-point byte: multiplying by 3^n (mod 256) moves digit n to the top,
// and (v * 3) >> 8 reads the top digit.
static inline int base3_digit(uint8_t byte, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t v = (uint8_t)(byte * pow3[n]);
    return (v * 3) >> 8;
}

// Value k (0..255) of a TQ1_0 block as its code: 0..159 from qs[0..31] (digit k / 32 of
// qs[k % 32]), 160..239 from qs[32..47] (digit (k - 160) / 16 of qs[32 + k % 16]), 240..255 from
// qh[0..3] (digit (k - 240) / 4 of qh[k % 4]).
static inline int tq1_0_code(const block_tq1_0& b, int k) {
    if (k < 160) return base3_digit(b.qs[k % 32], k / 32);
    if (k < 240) return base3_digit(b.qs[32 + (k - 160) % 16], (k - 160) / 16);
    return base3_digit(b.qh[(k - 240) % 4], (k - 240) / 4);
}

template <typename Block, int (*Code)(const Block&, int)>
static void dequantize_row_t(const void* w, float* y, int n) {
    const Block* blocks = (const Block*)w;
    for (int i = 0; i < n / QK_K; i++) {
        const float d = fp16_to_fp32(blocks[i].d);
        for (int k = 0; k < QK_K; k++) y[i * QK_K + k] = d * (float)(Code(blocks[i], k) - 1);
    }
}

// ---- ACT_I8_TOKEN quantization (x (n) -> one activation row, layout in kernels.h) --------------
// s = (float)(127 / max(1e-5, max|x|)) computed in double, q = clamp(round_half_even(x * s), -128, 127)
// with x * s in float (bitnet.cpp's quantize_row_i8_s), bsum[b] = sum of q over block b.
static void quantize_row_i8_token(const float* x, void* xq, int n) {
    uint8_t* out = (uint8_t*)xq;
    float amax = 0.0f;
    for (int k = 0; k < n; k++) amax = std::max(amax, std::fabs(x[k]));
    const float s = (float)(127.0 / std::max(1e-5, (double)amax));
    int8_t* q = (int8_t*)out;
    for (int k = 0; k < n; k++) {
        const int v = (int)std::nearbyint(x[k] * s);  // default rounding: half to even
        q[k] = (int8_t)std::min(127, std::max(-128, v));
    }
    std::memcpy(out + i8_token_scale_offset(n), &s, 4);
    for (int b = 0; b < n / QK_K; b++) {
        int32_t sum = 0;
        for (int k = 0; k < QK_K; k++) sum += q[b * QK_K + k];
        std::memcpy(out + i8_token_bsum_offset(n) + 4 * b, &sum, 4);
    }
    const size_t used = i8_token_bsum_offset(n) + 4 * (size_t)(n / QK_K);
    std::memset(out + used, 0, act_row_bytes(ACT_I8_TOKEN, n) - used);
}

// ---- Matmul: Y[t * ldy + r] = dot(W row r, X row t) for r in [row0, row1), t < n_tok ------------
template <typename Block, int (*Code)(const Block&, int)>
static float dot_row(const Block* w, const uint8_t* xrow, int n) {
    const int8_t* q = (const int8_t*)xrow;
    float s;
    std::memcpy(&s, xrow + i8_token_scale_offset(n), 4);
    float acc = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int k = 0; k < QK_K; k++) isum += (Code(w[b], k) - 1) * q[b * QK_K + k];
        acc = std::fmaf(fp16_to_fp32(w[b].d), (float)isum, acc);
    }
    return acc / s;
}

template <typename Block, int (*Code)(const Block&, int)>
static void matmul_t(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                     int n_in, int n_tok, int row0, int row1) {
    for (int r = row0; r < row1; r++) {
        const Block* w = (const Block*)((const uint8_t*)W + (size_t)r * w_row_bytes);
        for (int t = 0; t < n_tok; t++)
            Y[(size_t)t * ldy + r] = dot_row<Block, Code>(w, (const uint8_t*)Xq + (size_t)t * x_row_bytes, n_in);
    }
}

void register_ternary(KernelTable& t) {
    t.quantize_act[ACT_I8_TOKEN] = quantize_row_i8_token;
    t.dequantize_row[GGML_TQ2_0] = dequantize_row_t<block_tq2_0, tq2_0_code>;
    t.dequantize_row[GGML_TQ1_0] = dequantize_row_t<block_tq1_0, tq1_0_code>;
    t.matmul[GGML_TQ2_0] = {ACT_I8_TOKEN, matmul_t<block_tq2_0, tq2_0_code>};
    t.matmul[GGML_TQ1_0] = {ACT_I8_TOKEN, matmul_t<block_tq1_0, tq1_0_code>};
}

}  // namespace edgeq::ref
