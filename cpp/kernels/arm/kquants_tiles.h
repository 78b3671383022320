// The AArch64 K-quant kernels (Q4_K, Q6_K weights with Q8_K activations), shared by the neon and
// dotprod tiers: the super-block decoders (plain NEON) and the matmul tile, whose int8 products
// come from the tier's Dot policy. The loop nest is the ISA-neutral kernels/tile_driver.h.
//
// Per output and super-block the integer sums are exact (int32 lanes, then one horizontal add)
// and the float work is the reference's expression, in its order (kernels/ref/kquants.cpp):
//   Q4_K: acc += (d_w * d_x) * (float)isum - (dmin_w * d_x) * (float)imin
//   Q6_K: acc += (d_w * d_x) * (float)isum
// so these matmuls give the reference's bits (the test only asks for a float bound).
// Operands of Dot::dot_sum: Q4_K q in [0, 15], Q6_K q - 32 in [-32, 31], Q8_K x in [-127, 127].
//
// Included by files compiled with different -march flags: everything here has internal linkage.
#pragma once
#include <arm_neon.h>

#include <cstring>

#include "kernels/kernels.h"
#include "kernels/tile_driver.h"

namespace edgeq::arm {
namespace {

inline float fp16(ggml_half h) {  // FCVT: exact, as fp16_to_fp32
    __fp16 f;
    std::memcpy(&f, &h, 2);
    return (float)f;
}

// A decoded super-block: q[i] = values 16 i .. 16 i + 15 as int8.
struct Decoded {
    int8x16_t q[16];
};

// Q4_K: codes 0..15; sc[j], m[j] the 6-bit scale and min of sub-block j (32 values = q[2j], q[2j+1]).
struct Q4K {
    using Block = block_q4_K;
    static void scales(const Block& b, int32_t sc[8], int16_t m[8]) {
        const uint8_t* s = b.scales;
        for (int j = 0; j < 4; j++) {
            sc[j] = s[j] & 63;
            m[j] = s[j + 4] & 63;
            sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
            m[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
        }
    }
    // 64-value chunk c: qs[32 c .. 32 c + 31], low nibbles values 64 c .. +31, high nibbles +32 .. +63.
    static void decode(const Block& b, Decoded& d) {
        const uint8x16_t m4 = vdupq_n_u8(0x0F);
        for (int c = 0; c < 4; c++) {
            const uint8x16_t v0 = vld1q_u8(b.qs + 32 * c), v1 = vld1q_u8(b.qs + 32 * c + 16);
            d.q[4 * c + 0] = vreinterpretq_s8_u8(vandq_u8(v0, m4));
            d.q[4 * c + 1] = vreinterpretq_s8_u8(vandq_u8(v1, m4));
            d.q[4 * c + 2] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
            d.q[4 * c + 3] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
        }
    }
};

// Q6_K: q - 32 in [-32, 31]; register i is sub-block i (16 values, int8 scale scales[i]).
// Half h (values 128 h ..): ql[64 h ..], qh[32 h ..]; quarter u of it, l < 32: low nibble of
// ql[64 h + 32 (u & 1) + l] (u < 2) or its high nibble (u >= 2), high bits (qh[32 h + l] >> 2u) & 3.
struct Q6K {
    using Block = block_q6_K;
    static void decode(const Block& b, Decoded& d) {
        const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
        const int8x16_t bias = vdupq_n_s8(32);
        for (int h = 0; h < 2; h++) {
            uint8x16_t ql[4], qh[2];
            for (int i = 0; i < 4; i++) ql[i] = vld1q_u8(b.ql + 64 * h + 16 * i);
            for (int i = 0; i < 2; i++) qh[i] = vld1q_u8(b.qh + 32 * h + 16 * i);
            for (int i = 0; i < 2; i++) {  // l = 16 i .. 16 i + 15
                const uint8x16_t lo[4] = {vandq_u8(ql[i], m4), vandq_u8(ql[2 + i], m4), vshrq_n_u8(ql[i], 4),
                                          vshrq_n_u8(ql[2 + i], 4)};
                const uint8x16_t hi[4] = {vandq_u8(qh[i], m3), vandq_u8(vshrq_n_u8(qh[i], 2), m3),
                                          vandq_u8(vshrq_n_u8(qh[i], 4), m3), vshrq_n_u8(qh[i], 6)};
                for (int u = 0; u < 4; u++)
                    d.q[8 * h + 2 * u + i] =
                        vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo[u], vshlq_n_u8(hi[u], 4))), bias);
            }
        }
    }
};

// One R x T tile of tiles::for_each_tile: each row's super-block is decoded once per tile and
// multiplied with T activation blocks.
template <class F, class D>
struct KQuantTile {
    template <int R, int T>
    static void tile(const tiles::TileArgs& a, int r0, int t0) {
        using Block = typename F::Block;
        const int nb = a.n_in / QK_K;
        const block_q8_K* x[T];
        for (int t = 0; t < T; t++) x[t] = (const block_q8_K*)(a.X + (size_t)(t0 + t) * a.x_row_bytes);
        float acc[R][T] = {};
        for (int b = 0; b < nb; b++) {
            for (int r = 0; r < R; r++) {
                const Block& w = ((const Block*)(a.W + (size_t)(r0 + r) * a.w_row_bytes))[b];
                Decoded dq;
                F::decode(w, dq);
                if constexpr (sizeof(Block) == sizeof(block_q4_K)) {
                    int32_t sc[8];
                    int16_t m[8];
                    F::scales(w, sc, m);
                    const int16x8_t mv = vld1q_s16(m);
                    for (int t = 0; t < T; t++) {
                        const int8_t* xq = x[t][b].qs;
                        int32x4_t isum = vdupq_n_s32(0);
#pragma GCC unroll 8
                        for (int j = 0; j < 8; j++) {
                            int32x4_t s = D::dot_sum(vdupq_n_s32(0), dq.q[2 * j], vld1q_s8(xq + 32 * j));
                            s = D::dot_sum(s, dq.q[2 * j + 1], vld1q_s8(xq + 32 * j + 16));
                            isum = vmlaq_n_s32(isum, s, sc[j]);
                        }
                        // Sub-block sums of x: pairs of bsums (|.| <= 32 * 127 fits int16).
                        const int16x8_t bs = vpaddq_s16(vld1q_s16(x[t][b].bsums), vld1q_s16(x[t][b].bsums + 8));
                        const int32_t imin = vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(mv), vget_low_s16(bs)), mv, bs));
                        const float d = fp16(w.d) * x[t][b].d, dmin = fp16(w.dmin) * x[t][b].d;
                        acc[r][t] += d * (float)vaddvq_s32(isum) - dmin * (float)imin;
                    }
                } else {
                    for (int t = 0; t < T; t++) {
                        const int8_t* xq = x[t][b].qs;
                        int32x4_t isum = vdupq_n_s32(0);
#pragma GCC unroll 16
                        for (int s = 0; s < 16; s++)
                            isum = vmlaq_n_s32(isum, D::dot_sum(vdupq_n_s32(0), dq.q[s], vld1q_s8(xq + 16 * s)),
                                               w.scales[s]);
                        acc[r][t] += (fp16(w.d) * x[t][b].d) * (float)vaddvq_s32(isum);
                    }
                }
            }
        }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < R; r++) a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = acc[r][t];
    }
};

// Tile shapes (not tuned on hardware): 2 rows x 4 tokens for prompts, 4 rows for decode.
template <class F, class D>
void matmul_kquant(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                   int n_in, int n_tok, int row0, int row1) {
    const tiles::TileArgs a{(const uint8_t*)W, w_row_bytes, (const uint8_t*)X, x_row_bytes, Y, ldy, n_in};
    using K = KQuantTile<F, D>;
    if (n_tok == 1) tiles::for_each_tile<K, 4, 1>(a, 1, row0, row1);
    else tiles::for_each_tile<K, 2, 4>(a, n_tok, row0, row1);
}

template <class D>
void register_kquant_matmuls(KernelTable& t) {
    t.matmul[GGML_Q4_K] = {ACT_Q8_K, &matmul_kquant<Q4K, D>};
    t.matmul[GGML_Q6_K] = {ACT_Q8_K, &matmul_kquant<Q6K, D>};
}

}  // namespace
}  // namespace edgeq::arm
