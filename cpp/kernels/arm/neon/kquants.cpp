// NEON K-quant kernels: Q4_K / Q6_K matmuls (kernels/arm/kquants_tiles.h with the SMLAL Dot),
// the Q8_K activation quantizer and the Q4_K / Q6_K row dequantizers, the last two byte- /
// bit-exact with kernels/ref/kquants.cpp (same float32 operations in the same order, no FMA).
#include <cmath>
#include <cstring>

#include "kernels/arm/kquants_tiles.h"
#include "kernels/arm/neon/neon.h"

namespace edgeq::neon {
namespace {

using arm::fp16;

// x (n) -> n / 256 block_q8_K. Per block: max = the first x with the largest |x|,
// iscale = -127 / max, q = round_half_even(iscale * x) (FCVTNS; |.| <= 127, so the saturating
// narrows only truncate: the reference's min(127, .)), bsums of 16, d = 1 / iscale.
void quantize_row_q8_K(const float* x, void* xq, int n) {
    block_q8_K* out = (block_q8_K*)xq;
    for (int i = 0; i < n / QK_K; i++) {
        const float* xb = x + i * QK_K;
        block_q8_K& b = out[i];
        float32x4_t vmax = vdupq_n_f32(0.0f);
        for (int k = 0; k < QK_K; k += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(xb + k)));
        const float amax = vmaxvq_f32(vmax);
        if (amax == 0.0f) {
            std::memset(&b, 0, sizeof(b));
            continue;
        }
        int first = 0;  // the first index whose |x| is amax: its sign decides the sign of d
        while (std::fabs(xb[first]) != amax) first++;
        const float iscale = -127.0f / xb[first];
        for (int k = 0; k < QK_K; k += 16) {
            int32x4_t v[4];
            for (int u = 0; u < 4; u++) v[u] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xb + k + 4 * u), iscale));
            const int16x8_t h0 = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
            const int16x8_t h1 = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
            const int8x16_t q = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
            vst1q_s8(b.qs + k, q);
            b.bsums[k / 16] = (int16_t)vaddlvq_s8(q);
        }
        b.d = 1.0f / iscale;
    }
}

// 16 int8 -> 16 floats (ds * q - m1) or ds * q at y, each a rounded product then (Q4_K) a
// rounded difference, as the reference.
template <bool kHasMin>
inline void store_scaled(int8x16_t q, float ds, float m1, float* y) {
    const int16x8_t h[2] = {vmovl_s8(vget_low_s8(q)), vmovl_high_s8(q)};
    for (int i = 0; i < 4; i++) {
        const int32x4_t v = i % 2 ? vmovl_high_s16(h[i / 2]) : vmovl_s16(vget_low_s16(h[i / 2]));
        const float32x4_t p = vmulq_n_f32(vcvtq_f32_s32(v), ds);
        vst1q_f32(y + 4 * i, kHasMin ? vsubq_f32(p, vdupq_n_f32(m1)) : p);
    }
}

// y = (d * sc[j]) * q - (dmin * m[j])
void dequantize_row_q4_K(const void* w, float* y, int n) {
    const block_q4_K* blocks = (const block_q4_K*)w;
    for (int i = 0; i < n / QK_K; i++, y += QK_K) {
        arm::Decoded dq;
        arm::Q4K::decode(blocks[i], dq);
        int32_t sc[8];
        int16_t m[8];
        arm::Q4K::scales(blocks[i], sc, m);
        const float d = fp16(blocks[i].d), dmin = fp16(blocks[i].dmin);
        for (int j = 0; j < 8; j++) {
            const float d1 = d * (float)sc[j], m1 = dmin * (float)m[j];
            store_scaled<true>(dq.q[2 * j], d1, m1, y + 32 * j);
            store_scaled<true>(dq.q[2 * j + 1], d1, m1, y + 32 * j + 16);
        }
    }
}

// y = (d * sc[s]) * (q - 32)
void dequantize_row_q6_K(const void* w, float* y, int n) {
    const block_q6_K* blocks = (const block_q6_K*)w;
    for (int i = 0; i < n / QK_K; i++, y += QK_K) {
        arm::Decoded dq;
        arm::Q6K::decode(blocks[i], dq);
        const float d = fp16(blocks[i].d);
        for (int s = 0; s < 16; s++) store_scaled<false>(dq.q[s], d * (float)blocks[i].scales[s], 0.0f, y + 16 * s);
    }
}

}  // namespace

void register_kquants(KernelTable& t) {
    arm::register_kquant_matmuls<Dot>(t);
    t.quantize_act[ACT_Q8_K] = quantize_row_q8_K;
    t.dequantize_row[GGML_Q4_K] = dequantize_row_q4_K;
    t.dequantize_row[GGML_Q6_K] = dequantize_row_q6_K;
}

}  // namespace edgeq::neon
