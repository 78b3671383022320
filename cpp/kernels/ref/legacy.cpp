// Scalar reference for the "legacy" GGUF block types: Q4_0, Q5_0 and Q8_0 weights with Q8_0
// activations, Q4_1 and Q5_1 weights with Q8_1 activations (the pairs ggml uses), their row
// dequantizers, and the Q8_0 / Q8_1 activation quantizers; also the x16 layouts of Q4_0, Q4_1,
// Q5_0, Q8_0 (kernels/interleave.h), whose rows are the same blocks interleaved.
//
// Activation quantization (per block of 32 values x[0..31]):
//   d = amax / 127            (float division, amax = max |x[j]|)
//   q[j] = d != 0 ? nearbyint(x[j] / d) : 0     (round half to even, so every ISA can match it
//                                                bit for bit with a vector divide + round)
//   stored d = fp16(d);  Q8_1 also stores s = fp16(d * sum_j q[j])   (d the float, as ggml)
// (gguf's own Q8_0 *weight* quantizer rounds half away from zero and multiplies by 1/d; this is
// the activation format only, weights are never produced here.)
//
// Block dot products are exact integer sums, scaled in float afterwards, as ggml does:
//   Q4_0 . Q8_0:  sum_j (qw[j] - 8) * qx[j]                * dw * dx
//   Q8_0 . Q8_0:  sum_j qw[j] * qx[j]                      * dw * dx
//   Q4_1 . Q8_1:  sum_j qw[j] * qx[j] * (dw * dx) + mw * sx
//   Q5_0 . Q8_0:  sum_j (qw[j] - 16) * qx[j]               * dw * dx
//   Q5_1 . Q8_1:  as Q4_1 with 5-bit qw
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/ref/ref.h"

namespace edgeq::ref {
namespace {

// ---- Activation quantization: x (n) -> n/32 blocks -----------------------------------------
// One block of 32: returns the float scale d and fills q.
float quantize_block_q8(const float* x, int8_t* q) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    for (int j = 0; j < 32; j++) q[j] = d != 0.0f ? (int8_t)std::nearbyint(x[j] / d) : 0;
    return d;
}

void quantize_act_q8_0(const float* x, void* xq, int n) {
    block_q8_0* y = static_cast<block_q8_0*>(xq);
    for (int b = 0; b < n / QK8_0; b++) y[b].d = fp32_to_fp16(quantize_block_q8(x + b * QK8_0, y[b].qs));
}

void quantize_act_q8_1(const float* x, void* xq, int n) {
    block_q8_1* y = static_cast<block_q8_1*>(xq);
    for (int b = 0; b < n / QK8_1; b++) {
        const float d = quantize_block_q8(x + b * QK8_1, y[b].qs);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += y[b].qs[j];
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

// ---- Weight rows -> float ------------------------------------------------------------------
// Nibble order: qs[j] & 15 is element j, qs[j] >> 4 is element j + 16.
void dequantize_row_q4_0(const void* w, float* y, int n) {
    const block_q4_0* x = static_cast<const block_q4_0*>(w);
    for (int b = 0; b < n / QK4_0; b++, y += QK4_0) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = d * (float)((x[b].qs[j] & 15) - 8);
            y[j + 16] = d * (float)((x[b].qs[j] >> 4) - 8);
        }
    }
}

// d * q is exact in float (11 + 4 bits), so d * q + m is rounded once, with or without FMA.
void dequantize_row_q4_1(const void* w, float* y, int n) {
    const block_q4_1* x = static_cast<const block_q4_1*>(w);
    for (int b = 0; b < n / QK4_1; b++, y += QK4_1) {
        const float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = d * (float)(x[b].qs[j] & 15) + m;
            y[j + 16] = d * (float)(x[b].qs[j] >> 4) + m;
        }
    }
}

// Element j of a Q5 block: nibble | bit j of qh << 4, in [0, 31].
template <class Block>
inline void q5_codes(const Block& b, int* q) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; j++) {
        q[j] = (b.qs[j] & 15) | (int)((qh >> j) & 1) << 4;
        q[j + 16] = (b.qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
    }
}

void dequantize_row_q5_0(const void* w, float* y, int n) {
    const block_q5_0* x = static_cast<const block_q5_0*>(w);
    for (int b = 0; b < n / QK5_0; b++, y += QK5_0) {
        const float d = fp16_to_fp32(x[b].d);
        int q[32];
        q5_codes(x[b], q);
        for (int j = 0; j < 32; j++) y[j] = d * (float)(q[j] - 16);
    }
}

// d * q is exact in float (11 + 5 bits), so d * q + m is rounded once, with or without FMA.
void dequantize_row_q5_1(const void* w, float* y, int n) {
    const block_q5_1* x = static_cast<const block_q5_1*>(w);
    for (int b = 0; b < n / QK5_1; b++, y += QK5_1) {
        const float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
        int q[32];
        q5_codes(x[b], q);
        for (int j = 0; j < 32; j++) y[j] = d * (float)q[j] + m;
    }
}

void dequantize_row_q8_0(const void* w, float* y, int n) {
    const block_q8_0* x = static_cast<const block_q8_0*>(w);
    for (int b = 0; b < n / QK8_0; b++, y += QK8_0) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++) y[j] = d * (float)x[b].qs[j];
    }
}

// ---- Row dot products: one weight row . one activation row, nb blocks ----------------------
float vec_dot_q4_0_q8_0(const void* w, const void* x, int nb) {
    const block_q4_0* a = static_cast<const block_q4_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0.0f;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += ((a[i].qs[j] & 15) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        sum += (float)sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

float vec_dot_q4_1_q8_1(const void* w, const void* x, int nb) {
    const block_q4_1* a = static_cast<const block_q4_1*>(w);
    const block_q8_1* b = static_cast<const block_q8_1*>(x);
    float sum = 0.0f;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) sumi += (a[i].qs[j] & 15) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        sum += (float)sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d)) +
               fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    return sum;
}

float vec_dot_q5_0_q8_0(const void* w, const void* x, int nb) {
    const block_q5_0* a = static_cast<const block_q5_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0.0f;
    for (int i = 0; i < nb; i++) {
        int q[32], sumi = 0;
        q5_codes(a[i], q);
        for (int j = 0; j < 32; j++) sumi += (q[j] - 16) * b[i].qs[j];
        sum += (float)sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

float vec_dot_q5_1_q8_1(const void* w, const void* x, int nb) {
    const block_q5_1* a = static_cast<const block_q5_1*>(w);
    const block_q8_1* b = static_cast<const block_q8_1*>(x);
    float sum = 0.0f;
    for (int i = 0; i < nb; i++) {
        int q[32], sumi = 0;
        q5_codes(a[i], q);
        for (int j = 0; j < 32; j++) sumi += q[j] * b[i].qs[j];
        sum += (float)sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d)) +
               fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    return sum;
}

float vec_dot_q8_0_q8_0(const void* w, const void* x, int nb) {
    const block_q8_0* a = static_cast<const block_q8_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0.0f;
    for (int i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += a[i].qs[j] * b[i].qs[j];
        sum += (float)sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1):
//   Y[t * ldy + r] = VecDot(W row r, X row t, n_in / 32 blocks)
template <float (*VecDot)(const void*, const void*, int)>
void matmul_blocks(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                   int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / 32;
    for (int r = row0; r < row1; r++)
        for (int t = 0; t < n_tok; t++)
            Y[(size_t)t * ldy + r] = VecDot(static_cast<const uint8_t*>(W) + (size_t)r * w_row_bytes,
                                            static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes, nb);
}

// The same for an x16 layout (kernels/interleave.h): each row unpacked to its GGUF blocks first.
template <uint32_t X16, float (*VecDot)(const void*, const void*, int)>
void matmul_x16(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
                int n_tok, int row0, int row1) {
    const int nb = n_in / 32;
    std::vector<uint8_t> row(w_row_bytes);  // the x16 row bytes equal the base type's
    for (int r = row0; r < row1; r++) {
        x16::unpack_row(X16, static_cast<const uint8_t*>(W), n_in, r, row.data());
        for (int t = 0; t < n_tok; t++)
            Y[(size_t)t * ldy + r] = VecDot(row.data(), static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes, nb);
    }
}

}  // namespace

void register_legacy(KernelTable& t) {
    t.matmul[EDGEQ_Q4_0X16] = {ACT_Q8_0, &matmul_x16<EDGEQ_Q4_0X16, vec_dot_q4_0_q8_0>};
    t.matmul[EDGEQ_Q4_1X16] = {ACT_Q8_1, &matmul_x16<EDGEQ_Q4_1X16, vec_dot_q4_1_q8_1>};
    t.matmul[EDGEQ_Q5_0X16] = {ACT_Q8_0, &matmul_x16<EDGEQ_Q5_0X16, vec_dot_q5_0_q8_0>};
    t.matmul[EDGEQ_Q8_0X16] = {ACT_Q8_0, &matmul_x16<EDGEQ_Q8_0X16, vec_dot_q8_0_q8_0>};
    t.matmul[GGML_Q4_0] = {ACT_Q8_0, &matmul_blocks<vec_dot_q4_0_q8_0>};
    t.matmul[GGML_Q4_1] = {ACT_Q8_1, &matmul_blocks<vec_dot_q4_1_q8_1>};
    t.matmul[GGML_Q5_0] = {ACT_Q8_0, &matmul_blocks<vec_dot_q5_0_q8_0>};
    t.matmul[GGML_Q5_1] = {ACT_Q8_1, &matmul_blocks<vec_dot_q5_1_q8_1>};
    t.matmul[GGML_Q8_0] = {ACT_Q8_0, &matmul_blocks<vec_dot_q8_0_q8_0>};
    t.dequantize_row[GGML_Q4_0] = &dequantize_row_q4_0;
    t.dequantize_row[GGML_Q4_1] = &dequantize_row_q4_1;
    t.dequantize_row[GGML_Q5_0] = &dequantize_row_q5_0;
    t.dequantize_row[GGML_Q5_1] = &dequantize_row_q5_1;
    t.dequantize_row[GGML_Q8_0] = &dequantize_row_q8_0;
    t.quantize_act[ACT_Q8_0] = &quantize_act_q8_0;
    t.quantize_act[ACT_Q8_1] = &quantize_act_q8_1;
}

}  // namespace edgeq::ref
