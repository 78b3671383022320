// The AArch64 matmul kernels of the legacy block types, shared by the neon, dotprod and i8mm tiers:
// Q4_0 / Q8_0 weights with Q8_0 activations, Q4_1 weights with Q8_1 activations. The int8
// products come from the tier's Dot policy (neon/neon.h: SMULL/SMLAL/SADALP; dotprod/dotprod.h:
// SDOT); the loop nest is the ISA-neutral kernels/tile_driver.h.
//
// Per block of 32 the dot is an exact int32 sum (four partial lanes), then, as in
// kernels/ref/legacy.cpp, scaled in float by dw * dx (one product, rounded as the reference's):
//   acc_lanes = fma((float)partials, dw * dx, acc_lanes)  (Q4_1 also msum = fma(mw, sx, msum))
//   y = (sum of the 4 lanes) + msum.
// Only the float order over blocks differs from the reference (4 lanes, then a tree), which
// tests/cpp/test_kernels_legacy.cpp bounds. Operands (both int8, see Dot::dot_sum's bound):
//   Q4_0: q - 8 in [-8, 7];  Q4_1: q in [0, 15];  Q8_0: w in [-128, 127];  x in [-127, 127].
//
// Included by files compiled with different -march flags: everything here has internal linkage.
#pragma once
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/tile_driver.h"

namespace edgeq::arm {
namespace {

using tiles::TileArgs;

// fp16 -> float with FCVT (exact, as fp16_to_fp32).
inline float half_to_float(ggml_half h) {
    __fp16 f;
    std::memcpy(&f, &h, 2);
    return (float)f;
}

// 16 bytes of nibbles -> elements 0..15 (low nibbles) and 16..31 (high nibbles), minus `bias`.
inline void unpack_nibbles(const uint8_t* qs, int8x16_t out[2], int bias) {
    const uint8x16_t v = vld1q_u8(qs);
    out[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), vdupq_n_s8((int8_t)bias));
    out[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), vdupq_n_s8((int8_t)bias));
}

// Formats: prep(weight block, out) -> the 32 weights as int8 (two registers, element order).
struct FmtQ4_0 {
    using WB = block_q4_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static void prep(const WB& w, int8x16_t out[2]) { unpack_nibbles(w.qs, out, 8); }
};
struct FmtQ4_1 {
    using WB = block_q4_1;
    using XB = block_q8_1;
    static constexpr bool kHasMin = true;
    static void prep(const WB& w, int8x16_t out[2]) { unpack_nibbles(w.qs, out, 0); }
};
struct FmtQ8_0 {
    using WB = block_q8_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static void prep(const WB& w, int8x16_t out[2]) { out[0] = vld1q_s8(w.qs), out[1] = vld1q_s8(w.qs + 16); }
};

// One R x T tile of tiles::for_each_tile: each weight block is unpacked once and multiplied with
// T activation blocks. a.xd / a.xs: activation d (and Q8_1's s) as floats, (n_tok, n_in / 32).
template <class F, class D>
struct LegacyTile {
    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        using WB = typename F::WB;
        using XB = typename F::XB;
        const int nb = a.n_in / 32;
        const WB* w[R];
        const XB* x[T];
        const float* xd[T];
        const float* xs[T];
        for (int r = 0; r < R; r++) w[r] = (const WB*)(a.W + (size_t)(r0 + r) * a.w_row_bytes);
        for (int t = 0; t < T; t++) {
            x[t] = (const XB*)(a.X + (size_t)(t0 + t) * a.x_row_bytes);
            xd[t] = a.xd + (size_t)(t0 + t) * nb;
            xs[t] = a.xs + (size_t)(t0 + t) * nb;
        }
        float32x4_t acc[R][T];
        float msum[R][T];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0.0f), msum[r][t] = 0.0f;
        for (int b = 0; b < nb; b++) {
            int8x16_t xv[T][2];
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) xv[t][0] = vld1q_s8(x[t][b].qs), xv[t][1] = vld1q_s8(x[t][b].qs + 16);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                int8x16_t q[2];
                F::prep(w[r][b], q);
                const float dw = half_to_float(w[r][b].d);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) {
                    const int32x4_t isum = D::dot_sum(D::dot_sum(vdupq_n_s32(0), q[0], xv[t][0]), q[1], xv[t][1]);
                    acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum), dw * xd[t][b]);
                }
                if constexpr (F::kHasMin) {
                    const float mw = half_to_float(w[r][b].m);
                    for (int t = 0; t < T; t++) msum[r][t] = std::fmaf(mw, xs[t][b], msum[r][t]);
                }
            }
        }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < R; r++) a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = vaddvq_f32(acc[r][t]) + msum[r][t];
    }
};

// Tile shapes: 2 rows x 4 tokens for prompts (8 float accumulators + 8 activation registers +
// the unpacked weights stay well inside the 32 vector registers), 4 rows at once for decode.
// Not tuned on hardware (measured under emulation only).
constexpr int kRows = 2, kToks = 4, kGemvRows = 4;

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1). Decode (one
// token) runs LegacyTile<F, D>; prompts run Gemm (a tile class of tiles::for_each_tile taking the
// same TileArgs) in GemmRows x GemmToks tiles: LegacyTile by default, the i8mm tier its SMMLA tile.
template <class F, class D, class Gemm = LegacyTile<F, D>, int GemmRows = kRows, int GemmToks = kToks>
void matmul_legacy(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                   int n_in, int n_tok, int row0, int row1) {
    using XB = typename F::XB;
    const int nb = n_in / 32;
    thread_local std::vector<float> xd, xs;  // per call and thread: activation scales as floats
    xd.resize((size_t)n_tok * nb);
    if constexpr (F::kHasMin) xs.resize((size_t)n_tok * nb);
    for (int t = 0; t < n_tok; t++) {
        const XB* x = (const XB*)((const uint8_t*)X + (size_t)t * x_row_bytes);
        for (int b = 0; b < nb; b++) {
            xd[(size_t)t * nb + b] = half_to_float(x[b].d);
            if constexpr (F::kHasMin) xs[(size_t)t * nb + b] = half_to_float(x[b].s);
        }
    }
    TileArgs a{(const uint8_t*)W, w_row_bytes, (const uint8_t*)X, x_row_bytes, Y, ldy, n_in};
    a.xd = xd.data();
    a.xs = xs.data();
    if (n_tok == 1) tiles::for_each_tile<LegacyTile<F, D>, kGemvRows, 1>(a, 1, row0, row1);
    else tiles::for_each_tile<Gemm, GemmRows, GemmToks>(a, n_tok, row0, row1);
}

// The matmul entries of one tier.
template <class D>
void register_legacy_matmuls(KernelTable& t) {
    t.matmul[GGML_Q4_0] = {ACT_Q8_0, &matmul_legacy<FmtQ4_0, D>};
    t.matmul[GGML_Q4_1] = {ACT_Q8_1, &matmul_legacy<FmtQ4_1, D>};
    t.matmul[GGML_Q8_0] = {ACT_Q8_0, &matmul_legacy<FmtQ8_0, D>};
}

}  // namespace
}  // namespace edgeq::arm
