// i8mm matmuls of the legacy block types (Q4_0, Q8_0 with Q8_0 activations; Q4_1 with Q8_1):
// prompts (n_tok >= 2) multiply 2 weight rows x 2 tokens per SMMLA; decode keeps the dotprod
// tier's SDOT kernel (one token has no second column for SMMLA). Quantizers and dequantizers are
// the neon tier's. The loop nest is kernels/arm/legacy_tiles.h's matmul_legacy.
//
// Per block of 32 and (row, token) the dot is an exact int32 (four SMMLA of 8 values each), and
// the float work is the reference's expression in its order (kernels/ref/legacy.cpp), one output
// per lane:
//   acc += (float)isum * (dw * dx)               (Q4_0, Q8_0)
//   acc += (float)isum * (dw * dx) + mw * sx     (Q4_1)
// with separate multiplies and adds (no FMA), so these prompt matmuls give the reference's bits
// (tests/cpp/test_kernels_legacy.cpp checks them within its float bound, as every tier).
//
// Tile: R <= 4 rows x T <= 4 tokens as 2 x 2 blocks; an odd last row / token repeats its
// neighbour in the unused half of the operands, and that lane is not stored.
#include "kernels/arm/dotprod/dotprod.h"
#include "kernels/arm/i8mm/i8mm.h"
#include "kernels/arm/legacy_tiles.h"

namespace edgeq::i8mm {
namespace {

using arm::half_to_float;
using tiles::TileArgs;

// Lanes {a, a, b, b} and {a, b, a, b}: the per-row and per-token factors of a 2 x 2 block.
inline float32x4_t rows2(float a, float b) { return vcombine_f32(vdup_n_f32(a), vdup_n_f32(b)); }
inline float32x4_t toks2(float a, float b) {
    const float32x2_t ab = vset_lane_f32(b, vdup_n_f32(a), 1);
    return vcombine_f32(ab, ab);
}

template <class F>
struct MmlaTile {
    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        using WB = typename F::WB;
        using XB = typename F::XB;
        constexpr int RP = (R + 1) / 2, TP = (T + 1) / 2;  // row pairs, token pairs
        const int nb = a.n_in / 32;
        const WB* w[2 * RP];
        const XB* x[2 * TP];
        const float* xd[2 * TP];
        const float* xs[2 * TP];
        for (int i = 0; i < 2 * RP; i++) w[i] = (const WB*)(a.W + (size_t)(r0 + (i < R ? i : R - 1)) * a.w_row_bytes);
        for (int j = 0; j < 2 * TP; j++) {
            const int t = t0 + (j < T ? j : T - 1);
            x[j] = (const XB*)(a.X + (size_t)t * a.x_row_bytes);
            xd[j] = a.xd + (size_t)t * nb;
            xs[j] = a.xs + (size_t)t * nb;
        }
        float32x4_t acc[RP][TP];  // lanes: (row 2 i, token 2 p), (2 i, 2 p + 1), (2 i + 1, 2 p), (2 i + 1, 2 p + 1)
        for (int i = 0; i < RP; i++)
            for (int p = 0; p < TP; p++) acc[i][p] = vdupq_n_f32(0.0f);
        for (int b = 0; b < nb; b++) {
            int8x16_t xv[TP][4];  // token pair p, values 8 k .. 8 k + 7 of both tokens
            float32x4_t dx[TP], sx[TP];
#pragma GCC unroll 2
            for (int p = 0; p < TP; p++) {
                const XB& u = x[2 * p][b];
                const XB& v = x[2 * p + 1][b];
                pair_rows(vld1q_s8(u.qs), vld1q_s8(v.qs), xv[p]);
                pair_rows(vld1q_s8(u.qs + 16), vld1q_s8(v.qs + 16), xv[p] + 2);
                dx[p] = toks2(xd[2 * p][b], xd[2 * p + 1][b]);
                if constexpr (F::kHasMin) sx[p] = toks2(xs[2 * p][b], xs[2 * p + 1][b]);
            }
#pragma GCC unroll 2
            for (int i = 0; i < RP; i++) {
                const WB& u = w[2 * i][b];
                const WB& v = w[2 * i + 1][b];
                int8x16_t qu[2], qv[2], wv[4];
                F::prep(u, qu);
                F::prep(v, qv);
                pair_rows(qu[0], qv[0], wv);
                pair_rows(qu[1], qv[1], wv + 2);
                const float32x4_t dw = rows2(half_to_float(u.d), half_to_float(v.d));
                float32x4_t mw = dw;
                if constexpr (F::kHasMin) mw = rows2(half_to_float(u.m), half_to_float(v.m));
#pragma GCC unroll 2
                for (int p = 0; p < TP; p++) {
                    int32x4_t isum = vmmlaq_s32(vdupq_n_s32(0), wv[0], xv[p][0]);
                    for (int k = 1; k < 4; k++) isum = vmmlaq_s32(isum, wv[k], xv[p][k]);
                    float32x4_t term = vmulq_f32(vcvtq_f32_s32(isum), vmulq_f32(dw, dx[p]));
                    if constexpr (F::kHasMin) term = vaddq_f32(term, vmulq_f32(mw, sx[p]));
                    acc[i][p] = vaddq_f32(acc[i][p], term);
                }
            }
        }
        for (int i = 0; i < RP; i++)
            for (int p = 0; p < TP; p++) {
                float out[4];
                vst1q_f32(out, acc[i][p]);
                for (int l = 0; l < 4; l++) {
                    const int r = 2 * i + l / 2, t = 2 * p + l % 2;
                    if (r < R && t < T) a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = out[l];
                }
            }
    }
};

// 4 rows x 4 tokens: 8 activation operands and 4 accumulators stay in registers while each row
// pair's 4 weight operands meet both token pairs. Not tuned on hardware (emulation only).
template <class F>
void matmul(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy, int n_in,
            int n_tok, int row0, int row1) {
    arm::matmul_legacy<F, dotprod::Dot, MmlaTile<F>, 4, 4>(W, w_row_bytes, X, x_row_bytes, Y, ldy, n_in, n_tok, row0,
                                                           row1);
}

}  // namespace

void register_legacy(KernelTable& t) {
    t.matmul[GGML_Q4_0] = {ACT_Q8_0, &matmul<arm::FmtQ4_0>};
    t.matmul[GGML_Q4_1] = {ACT_Q8_1, &matmul<arm::FmtQ4_1>};
    t.matmul[GGML_Q8_0] = {ACT_Q8_0, &matmul<arm::FmtQ8_0>};
}

}  // namespace edgeq::i8mm
