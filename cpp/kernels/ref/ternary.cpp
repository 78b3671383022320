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
#include "kernels/ref/ternary_codes.h"

namespace edgeq::ref {

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
void quantize_row_i8_token(const float* x, void* xq, int n) {
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
