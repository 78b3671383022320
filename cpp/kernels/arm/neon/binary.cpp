// NEON Q1_0 kernels with ACT_Q8_PLANES activations. Bit-exact with cpp/kernels/ref/binary.cpp: one
// lane per weight row keeps the reference's float order (loop nest in kernels/binary_driver.h).
// The dotprod tier inherits this table entry (SDOT has nothing to add to a popcount).
//
// Tile: 4 weight rows. W[k] lane r = bits 32k .. 32k+31 of row r's block (qs bytes 4k .. 4k+3).
// Per plane b: CNT gives the byte popcounts of W[k] & P[b][k], summed over k (<= 32 per byte);
// UADDLP pairs them into uint16 (<= 64), shifted by b and added into an int16 accumulator
// (plane 7 subtracted: c_7 = -128; |.| <= 64 * 128 = 8192); SADDLP then gives S per row lane,
// isum = 2 S - sum, and acc = fma(d_w * d_x, (float)isum, acc) with an explicit FMLA.
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/neon/neon.h"
#include "kernels/binary_driver.h"

namespace edgeq::neon {
namespace {

struct Q1Kernel {
    static constexpr int kLanes = 4;
    using ActBlock = block_q8_planes;
    struct Tile {
        uint32x4_t w[4];
        float32x4_t d;
    };

    static inline uint32x4_t bits(const uint8_t* row, int b) {
        return vreinterpretq_u32_u8(vld1q_u8(row + (size_t)b * sizeof(block_q1_0) + offsetof(block_q1_0, qs)));
    }

    static inline void start(const uint8_t* const[4], Tile&) {}

    static inline void load(const uint8_t* const rows[4], int b, Tile& t) {
        // 4 x 4 transpose of 32-bit words: w[k] lane r = word k of row r.
        const uint32x4x2_t p01 = vtrnq_u32(bits(rows[0], b), bits(rows[1], b));  // (r0w0 r1w0 r0w2 r1w2), (r0w1 r1w1 r0w3 r1w3)
        const uint32x4x2_t p23 = vtrnq_u32(bits(rows[2], b), bits(rows[3], b));
        t.w[0] = vcombine_u32(vget_low_u32(p01.val[0]), vget_low_u32(p23.val[0]));
        t.w[1] = vcombine_u32(vget_low_u32(p01.val[1]), vget_low_u32(p23.val[1]));
        t.w[2] = vcombine_u32(vget_high_u32(p01.val[0]), vget_high_u32(p23.val[0]));
        t.w[3] = vcombine_u32(vget_high_u32(p01.val[1]), vget_high_u32(p23.val[1]));
        float d[4];
        for (int i = 0; i < 4; i++) {
            ggml_half h;
            std::memcpy(&h, rows[i] + (size_t)b * sizeof(block_q1_0), 2);
            d[i] = fp16_to_fp32(h);
        }
        t.d = vld1q_f32(d);
    }

    // Pair sums of the byte popcounts of W[k] & plane bits k, summed over k: 8 uint16 <= 64.
    static inline int16x8_t count(const Tile& t, const uint8_t* plane) {
        uint32_t p[4];
        std::memcpy(p, plane, 16);
        uint8x16_t n = vcntq_u8(vreinterpretq_u8_u32(vandq_u32(t.w[0], vdupq_n_u32(p[0]))));
        n = vaddq_u8(n, vcntq_u8(vreinterpretq_u8_u32(vandq_u32(t.w[1], vdupq_n_u32(p[1])))));
        n = vaddq_u8(n, vcntq_u8(vreinterpretq_u8_u32(vandq_u32(t.w[2], vdupq_n_u32(p[2])))));
        n = vaddq_u8(n, vcntq_u8(vreinterpretq_u8_u32(vandq_u32(t.w[3], vdupq_n_u32(p[3])))));
        return vreinterpretq_s16_u16(vpaddlq_u8(n));
    }

    static inline void accumulate(const Tile& t, const block_q8_planes& x, float* acc) {
        int16x8_t s16 = vnegq_s16(vshlq_n_s16(count(t, x.planes[7]), 7));
        s16 = vaddq_s16(s16, count(t, x.planes[0]));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[1]), 1));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[2]), 2));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[3]), 3));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[4]), 4));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[5]), 5));
        s16 = vaddq_s16(s16, vshlq_n_s16(count(t, x.planes[6]), 6));
        const int32x4_t s = vpaddlq_s16(s16);
        const int32x4_t isum = vsubq_s32(vaddq_s32(s, s), vdupq_n_s32(x.sum));
        const float32x4_t scale = vmulq_f32(t.d, vdupq_n_f32(x.d));
        vst1q_f32(acc, vfmaq_f32(vld1q_f32(acc), scale, vcvtq_f32_s32(isum)));
    }
};

// Binary activations (ACT_B1): isum = 128 - 2 sum_k popcount(W[k] ^ X[k]) per lane.
struct XnorKernel : Q1Kernel {
    using ActBlock = block_b1;
    static inline void accumulate(const Tile& t, const block_b1& x, float* acc) {
        uint32_t p[4];
        std::memcpy(p, x.bits, 16);
        uint8x16_t n = vcntq_u8(vreinterpretq_u8_u32(veorq_u32(t.w[0], vdupq_n_u32(p[0]))));
        for (int k = 1; k < 4; k++) n = vaddq_u8(n, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(t.w[k], vdupq_n_u32(p[k])))));
        const int32x4_t c = vreinterpretq_s32_u32(vpaddlq_u16(vpaddlq_u8(n)));
        const int32x4_t isum = vsubq_s32(vdupq_n_s32(QK1_0), vaddq_s32(c, c));
        const float32x4_t scale = vmulq_f32(t.d, vdupq_n_f32(x.d));
        vst1q_f32(acc, vfmaq_f32(vld1q_f32(acc), scale, vcvtq_f32_s32(isum)));
    }
};

}  // namespace

void register_binary(KernelTable& t) {
    t.matmul[GGML_Q1_0] = {ACT_Q8_PLANES, binary::matmul<Q1Kernel>};
    t.q1_0_binary_act = {ACT_B1, binary::matmul<XnorKernel>};
}

}  // namespace edgeq::neon
