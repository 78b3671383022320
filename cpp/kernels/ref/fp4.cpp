// Scalar reference for the FP4 (E2M1) weight types MXFP4 and NVFP4 (block layouts and value
// tables in edgeq/quant_types.h): row dequantizers, matmul with Q8_0 activations (the pair
// llama.cpp's CPU backend uses), and the weight row quantizers (byte-identical to llama.cpp's
// quantize_row_mxfp4_ref / quantize_row_nvfp4_ref; the former also to the gguf package).
//
// Matmul. The doubled E2M1 values kvalues_fp4 are integers in [-12, 12], so a block dot with the
// int8 activations is an exact integer sum, scaled in float afterwards:
//   MXFP4 . Q8_0 (32 values):  sumi = sum_j kv(qw[j]) * qx[j]                  * (sw * dx)
//   NVFP4 . Q8_0 (one 64-block = two Q8_0 blocks, four sub-blocks s of 16):
//                              sum_s sumi_s * (sw_s * dx[s / 2])
// where sw is the half scale (e8m0_to_fp32_half / ue4m3_to_fp32_half) and dx = fp16(d) of the
// activation block. sw * dx is exact (a power of two, or 4 x 11 significant bits) unless it
// leaves the float range; each block term sumi * (sw * dx) is one rounding, and the reference
// adds the terms in order. |sumi| <= 12 * 127 * 32 = 48768.
#include <cmath>

#include "kernels/ref/ref.h"

namespace edgeq::ref {
namespace {

// ---- Weight rows -> float ------------------------------------------------------------------
void dequantize_row_mxfp4(const void* w, float* y, int n) {
    const block_mxfp4* x = static_cast<const block_mxfp4*>(w);
    for (int b = 0; b < n / QK_MXFP4; b++, y += QK_MXFP4) {
        const float d = e8m0_to_fp32_half(x[b].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            y[j] = (float)kvalues_fp4[x[b].qs[j] & 15] * d;
            y[j + 16] = (float)kvalues_fp4[x[b].qs[j] >> 4] * d;
        }
    }
}

void dequantize_row_nvfp4(const void* w, float* y, int n) {
    const block_nvfp4* x = static_cast<const block_nvfp4*>(w);
    for (int b = 0; b < n / QK_NVFP4; b++) {
        for (int s = 0; s < 4; s++, y += QK_NVFP4_SUB) {
            const float d = ue4m3_to_fp32_half(x[b].d[s]);
            for (int j = 0; j < 8; j++) {
                y[j] = (float)kvalues_fp4[x[b].qs[8 * s + j] & 15] * d;
                y[j + 8] = (float)kvalues_fp4[x[b].qs[8 * s + j] >> 4] * d;
            }
        }
    }
}

// ---- Row dot products: one weight row . one Q8_0 activation row, n_in values ----------------
float vec_dot_mxfp4_q8_0(const void* w, const void* x, int n_in) {
    const block_mxfp4* a = static_cast<const block_mxfp4*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0.0f;
    for (int i = 0; i < n_in / QK_MXFP4; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += kvalues_fp4[a[i].qs[j] & 15] * b[i].qs[j] + kvalues_fp4[a[i].qs[j] >> 4] * b[i].qs[j + 16];
        sum += (float)sumi * (e8m0_to_fp32_half(a[i].e) * fp16_to_fp32(b[i].d));
    }
    return sum;
}

float vec_dot_nvfp4_q8_0(const void* w, const void* x, int n_in) {
    const block_nvfp4* a = static_cast<const block_nvfp4*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0.0f;
    for (int i = 0; i < n_in / QK_NVFP4; i++) {
        for (int s = 0; s < 4; s++) {
            const block_q8_0& xb = b[2 * i + s / 2];
            const int8_t* xq = xb.qs + 16 * (s % 2);  // the 16 activations of sub-block s
            const uint8_t* q = a[i].qs + 8 * s;
            int sumi = 0;
            for (int j = 0; j < 8; j++) sumi += kvalues_fp4[q[j] & 15] * xq[j] + kvalues_fp4[q[j] >> 4] * xq[j + 8];
            sum += (float)sumi * (ue4m3_to_fp32_half(a[i].d[s]) * fp16_to_fp32(xb.d));
        }
    }
    return sum;
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1).
template <float (*VecDot)(const void*, const void*, int)>
void matmul_rows(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                 int n_in, int n_tok, int row0, int row1) {
    for (int r = row0; r < row1; r++)
        for (int t = 0; t < n_tok; t++)
            Y[(size_t)t * ldy + r] = VecDot(static_cast<const uint8_t*>(W) + (size_t)r * w_row_bytes,
                                            static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes, n_in);
}

// ---- Weight quantization (llama.cpp's reference quantizers) ---------------------------------
// The code whose doubled value times d is nearest to x; the first of equals (0 before -0).
uint8_t best_index_fp4(float x, float d) {
    int best = 0;
    float best_err = std::fabs((float)kvalues_fp4[0] * d - x);
    for (int i = 1; i < 16; i++) {
        const float err = std::fabs((float)kvalues_fp4[i] * d - x);
        if (err < best_err) best = i, best_err = err;
    }
    return (uint8_t)best;
}

// MXFP4: e = floor(log2(amax)) - 2 + 127 (so amax / 2^(e-127) is in [4, 8): the largest value 6
// times the scale is at most 1.5 amax), 0 for an all-zero block. llama.cpp computes it with
// log2f and a float -> uint8 cast; log2f is used here too (it can round up to the next integer
// just below a power of two, and must do so identically). The cast is undefined in C outside
// [0, 255]: here e is clamped to [0, 254] (amax below 2^-125, or inf / NaN: never in a model).
void quantize_row_mxfp4(const float* x, void* dst, int n) {
    block_mxfp4* y = static_cast<block_mxfp4*>(dst);
    for (int b = 0; b < n / QK_MXFP4; b++, x += QK_MXFP4) {
        float amax = 0.0f;
        for (int j = 0; j < QK_MXFP4; j++)
            if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
        float e = amax > 0.0f ? std::floor(std::log2(amax)) - 2.0f + 127.0f : 0.0f;
        if (!(e >= 0.0f)) e = 0.0f;  // also NaN
        if (e > 254.0f) e = 254.0f;
        y[b].e = (uint8_t)e;
        const float d = e8m0_to_fp32_half(y[b].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++)
            y[b].qs[j] = (uint8_t)(best_index_fp4(x[j], d) | best_index_fp4(x[j + 16], d) << 4);
    }
}

// ggml_fp32_to_ue4m3, bit for bit: the positive float x (clamped to 448) -> unsigned E4M3.
// Normal range: the mantissa is rounded half up on its 4th bit; exponents >= 15 (x >= 256)
// saturate to 0x7E (448); below 2^-6: subnormal man = (int)(x * 512 + 0.5) clamped to [0, 7].
uint8_t fp32_to_ue4m3(float x) {
    if (!(x > 0.0f)) return 0;
    if (x > 448.0f) x = 448.0f;
    const uint32_t bits = fp32_to_bits(x);
    int exp = (int)((bits >> 23) & 0xFF) - 127 + 7;
    if (exp <= 0) {
        int man = (int)(x * 512.0f + 0.5f);
        if (man > 7) man = 7;
        return man < 1 ? 0 : (uint8_t)man;
    }
    if (exp >= 15) return 0x7E;
    int man = (int)((bits >> 20) & 7) + (int)((bits >> 19) & 1);
    if (man > 7) {
        man = 0;
        if (++exp >= 15) return 0x7E;
    }
    return (uint8_t)(exp << 3 | man);
}

// NVFP4 (no per-tensor scale: the caller divides x by it first): per sub-block of 16,
// d = ue4m3(amax / 6), codes nearest to x / d (d halved, values doubled, as in dequantization).
void quantize_row_nvfp4(const float* x, void* dst, int n) {
    block_nvfp4* y = static_cast<block_nvfp4*>(dst);
    for (int b = 0; b < n / QK_NVFP4; b++) {
        for (int s = 0; s < 4; s++, x += QK_NVFP4_SUB) {
            float amax = 0.0f;
            for (int j = 0; j < QK_NVFP4_SUB; j++)
                if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
            y[b].d[s] = fp32_to_ue4m3(amax / 6.0f);
            const float d = ue4m3_to_fp32_half(y[b].d[s]);
            for (int j = 0; j < 8; j++)
                y[b].qs[8 * s + j] = (uint8_t)(best_index_fp4(x[j], d) | best_index_fp4(x[j + 8], d) << 4);
        }
    }
}

}  // namespace

void register_fp4(KernelTable& t) {
    t.matmul[GGML_MXFP4] = {ACT_Q8_0, &matmul_rows<vec_dot_mxfp4_q8_0>};
    t.matmul[GGML_NVFP4] = {ACT_Q8_0, &matmul_rows<vec_dot_nvfp4_q8_0>};
    t.dequantize_row[GGML_MXFP4] = &dequantize_row_mxfp4;
    t.dequantize_row[GGML_NVFP4] = &dequantize_row_nvfp4;
    t.quantize_row[GGML_MXFP4] = &quantize_row_mxfp4;
    t.quantize_row[GGML_NVFP4] = &quantize_row_nvfp4;
}

}  // namespace edgeq::ref
