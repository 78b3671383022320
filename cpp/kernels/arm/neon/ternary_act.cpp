// NEON ACT_I8_TOKEN quantization (bitnet.cpp's quantize_row_i8_s; layout in kernels.h), byte for
// byte the reference's: max|x| is exact in any order, the scale is the same scalar double
// expression, x * s is one float multiply, FCVTNS rounds half to even (as nearbyint in the
// default mode) and the saturating narrows clamp to [-128, 127].
#include <algorithm>
#include <cstring>

#include "kernels/arm/neon/neon.h"

namespace edgeq::neon {

void quantize_row_i8_token(const float* x, void* xq, int n) {
    uint8_t* out = (uint8_t*)xq;
    float32x4_t vmax = vdupq_n_f32(0.0f);
    for (int i = 0; i < n; i += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(x + i)));
    const float amax = vmaxvq_f32(vmax);
    const float s = (float)(127.0 / std::max(1e-5, (double)amax));

    const float32x4_t vs = vdupq_n_f32(s);
    for (int b = 0; b < n / QK_K; b++) {
        int16x8_t sum = vdupq_n_s16(0);  // pairs of q: 16 steps * 2 * 128 per lane at most
        for (int i = b * QK_K; i < (b + 1) * QK_K; i += 16) {
            int32x4_t a[4];
            for (int u = 0; u < 4; u++) a[u] = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 4 * u), vs));
            const int16x8_t h0 = vcombine_s16(vqmovn_s32(a[0]), vqmovn_s32(a[1]));
            const int16x8_t h1 = vcombine_s16(vqmovn_s32(a[2]), vqmovn_s32(a[3]));
            const int8x16_t q = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
            vst1q_s8((int8_t*)out + i, q);
            sum = vpadalq_s8(sum, q);
        }
        const int32_t bsum = vaddlvq_s16(sum);
        std::memcpy(out + i8_token_bsum_offset(n) + 4 * b, &bsum, 4);
    }
    std::memcpy(out + i8_token_scale_offset(n), &s, 4);
    const size_t used = i8_token_bsum_offset(n) + 4 * (size_t)(n / QK_K);
    std::memset(out + used, 0, act_row_bytes(ACT_I8_TOKEN, n) - used);
}

}  // namespace edgeq::neon
