// Scalar reference for the binary weight type Q1_0 (llama.cpp's 1.125 bpw format) with bit-plane
// int8 activations (ACT_Q8_PLANES). This file is the spec: the SIMD versions (x86/*/binary.cpp,
// arm/*/binary.cpp) are tested against it bit for bit (tests/cpp/test_kernels_binary.cpp), and it
// is tested against a numpy transcription of llama.cpp's dequantize_row_q1_0
// (tests/python/test_kernels_oracle_binary.py).
//
// Formats (quant_types.h): Q1_0 w[j] = bit(j) ? +d : -d, d = fp16 per 128 values.
// ACT_Q8_PLANES (kernels.h): x ~ d_x * q, q int8 per 128 values, stored as bit planes.
//
// Matmul (the contract in kernels.h): Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T.
// For output (t, r), in this order (SIMD kernels reproduce it exactly, one output per lane):
//   acc = 0.0f
//   for each block b (in order):  isum_b = sum_j s_j q_j, s_j = +-1        exact int32, |isum_b| <= 2^14
//                                 acc = fmaf(d_w * d_x, (float)isum_b, acc)  d_w * d_x rounded to float
//   y = acc
// The SIMD kernels get isum_b bit-serially: with S = sum_{j: bit set} q_j,
//   isum = S - (sum - S) = 2 S - sum,   S = sum_b c_b popcount(wbits & plane_b)  (c_b = 2^b, c_7 = -128)
// which is the same integer, so all ISAs agree bit for bit.
//
// Opt-in binary activations (ACT_B1, KernelTable::q1_0_binary_act): the same loop with
//   isum_b = sum_j s_j t_j, t_j = +-1 the activation signs = 128 - 2 popcount(wbits ^ xbits)
//   acc = fmaf(d_w * d_x, (float)isum_b, acc)
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"

namespace edgeq::ref {
namespace {

inline int q1_0_sign(const block_q1_0& b, int j) { return (b.qs[j / 8] >> (j % 8)) & 1 ? 1 : -1; }

// q[j] of an activation block, rebuilt from its planes.
inline int plane_value(const block_q8_planes& x, int j) {
    int v = 0;
    for (int b = 0; b < 8; b++) v |= ((x.planes[b][j / 8] >> (j % 8)) & 1) << b;
    return (int8_t)v;
}

void dequantize_row_q1_0(const void* w, float* y, int n) {
    const block_q1_0* x = static_cast<const block_q1_0*>(w);
    for (int i = 0; i < n / QK1_0; i++) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK1_0; j++) y[i * QK1_0 + j] = q1_0_sign(x[i], j) > 0 ? d : -d;
    }
}

void quantize_act_q8_planes(const float* x, void* xq, int n) {
    block_q8_planes* y = static_cast<block_q8_planes*>(xq);
    for (int i = 0; i < n / QK1_0; i++, x += QK1_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK1_0; j++) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        std::memset(y[i].planes, 0, sizeof(y[i].planes));
        int sum = 0;
        for (int j = 0; j < QK1_0; j++) {
            const int q = d != 0.0f ? (int)std::nearbyint(x[j] / d) : 0;
            sum += q;
            for (int b = 0; b < 8; b++) y[i].planes[b][j / 8] |= (uint8_t)((((uint8_t)q >> b) & 1) << (j % 8));
        }
        y[i].d = d;
        y[i].sum = sum;
    }
}

void matmul_q1_0(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK1_0;
    for (int r = row0; r < row1; r++) {
        const block_q1_0* w = (const block_q1_0*)((const uint8_t*)W + (size_t)r * w_row_bytes);
        for (int t = 0; t < n_tok; t++) {
            const block_q8_planes* x = (const block_q8_planes*)((const uint8_t*)X + (size_t)t * x_row_bytes);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                int isum = 0;
                for (int j = 0; j < QK1_0; j++) isum += q1_0_sign(w[b], j) * plane_value(x[b], j);
                const float scale = fp16_to_fp32(w[b].d) * x[b].d;
                acc = std::fma(scale, (float)isum, acc);
            }
            Y[(size_t)t * ldy + r] = acc;
        }
    }
}

// ACT_B1 (kernels.h): llama.cpp's quantize_row_q1_0_ref with d kept in float.
void quantize_act_b1(const float* x, void* xq, int n) {
    block_b1* y = static_cast<block_b1*>(xq);
    for (int i = 0; i < n / QK1_0; i++, x += QK1_0) {
        float sum_abs = 0.0f;
        for (int j = 0; j < QK1_0; j++) sum_abs += std::fabs(x[j]);
        y[i].d = sum_abs / QK1_0;
        std::memset(y[i].bits, 0, sizeof(y[i].bits));
        for (int j = 0; j < QK1_0; j++)
            if (x[j] >= 0.0f) y[i].bits[j / 8] |= (uint8_t)(1 << (j % 8));
    }
}

void matmul_q1_0_b1(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                    int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK1_0;
    for (int r = row0; r < row1; r++) {
        const block_q1_0* w = (const block_q1_0*)((const uint8_t*)W + (size_t)r * w_row_bytes);
        for (int t = 0; t < n_tok; t++) {
            const block_b1* x = (const block_b1*)((const uint8_t*)X + (size_t)t * x_row_bytes);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                int isum = 0;
                for (int j = 0; j < QK1_0; j++) isum += q1_0_sign(w[b], j) * ((x[b].bits[j / 8] >> (j % 8)) & 1 ? 1 : -1);
                acc = std::fma(fp16_to_fp32(w[b].d) * x[b].d, (float)isum, acc);
            }
            Y[(size_t)t * ldy + r] = acc;
        }
    }
}

}  // namespace

void register_binary(KernelTable& t) {
    t.q1_0_binary_act = {ACT_B1, &matmul_q1_0_b1};
    t.quantize_act[ACT_B1] = &quantize_act_b1;
    t.matmul[GGML_Q1_0] = {ACT_Q8_PLANES, &matmul_q1_0};
    t.dequantize_row[GGML_Q1_0] = &dequantize_row_q1_0;
    t.quantize_act[ACT_Q8_PLANES] = &quantize_act_q8_planes;
}

}  // namespace edgeq::ref
