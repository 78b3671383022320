// NEON kernels for the legacy block types: the matmuls (kernels/arm/legacy_tiles.h with the
// SMLAL Dot), the Q8_0 / Q8_1 activation quantizers and the Q4_0 / Q4_1 / Q8_0 row dequantizers,
// the last two byte- / bit-exact with kernels/ref/legacy.cpp (same IEEE divide, FCVTNS rounds
// half to even as nearbyint; d * q is exact, so d * q + m rounds once with or without FMA).
#include <cmath>

#include "kernels/arm/legacy_tiles.h"
#include "kernels/arm/neon/neon.h"

namespace edgeq::neon {
namespace {

using arm::half_to_float;

// One block of 32 floats -> q (32 int8); returns d = amax / 127 and *qsum = sum of q.
float quantize_block_q8(const float* x, int8_t* q, int* qsum) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k), m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float d = vmaxvq_f32(m) / 127.0f;
    if (d == 0.0f) {
        std::memset(q, 0, 32);
        *qsum = 0;
        return d;
    }
    const float32x4_t dv = vdupq_n_f32(d);
    int32x4_t i32[8], sum = vdupq_n_s32(0);
    for (int k = 0; k < 8; k++) i32[k] = vcvtnq_s32_f32(vdivq_f32(v[k], dv)), sum = vaddq_s32(sum, i32[k]);
    *qsum = vaddvq_s32(sum);
    for (int h = 0; h < 2; h++) {  // |q| <= 127: the saturating narrows are plain truncations
        const int16x8_t a = vcombine_s16(vqmovn_s32(i32[4 * h]), vqmovn_s32(i32[4 * h + 1]));
        const int16x8_t b = vcombine_s16(vqmovn_s32(i32[4 * h + 2]), vqmovn_s32(i32[4 * h + 3]));
        vst1q_s8(q + 16 * h, vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)));
    }
    return d;
}

void quantize_act_q8_0(const float* x, void* xq, int n) {
    block_q8_0* y = (block_q8_0*)xq;
    int sum;
    for (int b = 0; b < n / QK8_0; b++) y[b].d = fp32_to_fp16(quantize_block_q8(x + b * QK8_0, y[b].qs, &sum));
}

void quantize_act_q8_1(const float* x, void* xq, int n) {
    block_q8_1* y = (block_q8_1*)xq;
    for (int b = 0; b < n / QK8_1; b++) {
        int sum;
        const float d = quantize_block_q8(x + b * QK8_1, y[b].qs, &sum);
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

// 16 int8 -> 16 floats d * q (+ m) at y.
template <bool kHasMin>
inline void store_scaled(int8x16_t q, float d, float m, float* y) {
    const int16x8_t h[2] = {vmovl_s8(vget_low_s8(q)), vmovl_high_s8(q)};
    for (int i = 0; i < 4; i++) {
        const int32x4_t v = i % 2 ? vmovl_high_s16(h[i / 2]) : vmovl_s16(vget_low_s16(h[i / 2]));
        const float32x4_t f = vcvtq_f32_s32(v);
        vst1q_f32(y + 4 * i, kHasMin ? vfmaq_n_f32(vdupq_n_f32(m), f, d) : vmulq_n_f32(f, d));
    }
}

template <class F>
void dequantize_row(const void* w, float* y, int n) {
    const typename F::WB* x = (const typename F::WB*)w;
    for (int b = 0; b < n / 32; b++, y += 32) {
        int8x16_t q[2];
        F::prep(x[b], q);
        const float d = half_to_float(x[b].d);
        float m = 0.0f;
        if constexpr (F::kHasMin) m = half_to_float(x[b].m);
        store_scaled<F::kHasMin>(q[0], d, m, y);
        store_scaled<F::kHasMin>(q[1], d, m, y + 16);
    }
}

}  // namespace

void register_legacy(KernelTable& t) {
    arm::register_legacy_matmuls<Dot>(t);
    t.dequantize_row[GGML_Q4_0] = &dequantize_row<arm::FmtQ4_0>;
    t.dequantize_row[GGML_Q4_1] = &dequantize_row<arm::FmtQ4_1>;
    t.dequantize_row[GGML_Q8_0] = &dequantize_row<arm::FmtQ8_0>;
    t.quantize_act[ACT_Q8_0] = &quantize_act_q8_0;
    t.quantize_act[ACT_Q8_1] = &quantize_act_q8_1;
}

}  // namespace edgeq::neon
