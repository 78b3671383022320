// NEON float kernels: F32 / F16 / BF16 weights with ACT_F32 activations, the F16 / BF16 row
// conversions (exact: FCVTL for F16, a 16-bit shift for BF16) and dot_f32 / axpy_f32. The sums
// use FMA in 4 lanes (then a tree), so they differ from the reference's in-order float sum within
// the bound tests/cpp/test_kernels_float.cpp checks. Tiles: kernels/tile_driver.h.
#include <cmath>
#include <cstring>

#include "kernels/attention_rows.h"
#include "kernels/arm/neon/neon.h"
#include "kernels/tile_driver.h"

namespace edgeq::neon {
namespace {

// Weight formats: 4 values at element i of a row as floats (load4), one value (load1).
struct F32 {
    static float32x4_t load4(const uint8_t* row, int i) { return vld1q_f32((const float*)row + i); }
    static float load1(const uint8_t* row, int i) { return ((const float*)row)[i]; }
};
struct F16 {
    static float32x4_t load4(const uint8_t* row, int i) {
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t*)row + i)));
    }
    static float load1(const uint8_t* row, int i) {
        __fp16 h;
        std::memcpy(&h, row + 2 * (size_t)i, 2);
        return (float)h;
    }
};
struct BF16 {
    static float32x4_t load4(const uint8_t* row, int i) {
        return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t*)row + i), 16));
    }
    static float load1(const uint8_t* row, int i) {
        uint16_t h;
        std::memcpy(&h, row + 2 * (size_t)i, 2);
        return bf16_to_fp32(h);
    }
};

template <class F>
void dequantize_row(const void* w, float* y, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, F::load4((const uint8_t*)w, i));
    for (; i < n; i++) y[i] = F::load1((const uint8_t*)w, i);
}

// One R x T tile: acc[r][t] (4 lanes) over the 4-aligned part of the row, then the tail.
template <class F>
struct FloatTile {
    template <int R, int T>
    static void tile(const tiles::TileArgs& a, int r0, int t0) {
        const uint8_t* w[R];
        const float* x[T];
        for (int r = 0; r < R; r++) w[r] = a.W + (size_t)(r0 + r) * a.w_row_bytes;
        for (int t = 0; t < T; t++) x[t] = (const float*)(a.X + (size_t)(t0 + t) * a.x_row_bytes);
        float32x4_t acc[R][T];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0.0f);
        int i = 0;
        for (; i + 4 <= a.n_in; i += 4) {
            float32x4_t xv[T];
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) xv[t] = vld1q_f32(x[t] + i);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const float32x4_t wv = F::load4(w[r], i);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
            }
        }
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) {
                float s = vaddvq_f32(acc[r][t]);
                for (int k = i; k < a.n_in; k++) s = std::fmaf(F::load1(w[r], k), x[t][k], s);
                a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = s;
            }
    }
};

// 4 x 4 tiles for prompts (16 accumulators + 8 operands of the 32 vector registers), 4 rows for
// decode. Not tuned on hardware (measured under emulation only).
template <class F>
void matmul_float(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                  int n_in, int n_tok, int row0, int row1) {
    const tiles::TileArgs a{(const uint8_t*)W, w_row_bytes, (const uint8_t*)X, x_row_bytes, Y, ldy, n_in};
    if (n_tok == 1) tiles::for_each_tile<FloatTile<F>, 4, 1>(a, 1, row0, row1);
    else tiles::for_each_tile<FloatTile<F>, 4, 4>(a, n_tok, row0, row1);
}

// sum a[i] b[i]: four 4-lane accumulators, a tree, then the tail.
float dot_f32(const float* a, const float* b, int n) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int u = 0; u < 4; u++) acc[u] = vfmaq_f32(acc[u], vld1q_f32(a + i + 4 * u), vld1q_f32(b + i + 4 * u));
    for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for (; i < n; i++) s = std::fmaf(a[i], b[i], s);
    return s;
}

// y += a x (one FMA rounding per element).
void axpy_f32(float a, const float* x, float* y, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] = std::fmaf(a, x[i], y[i]);
}

}  // namespace

void register_float(KernelTable& t) {
    t.matmul[GGML_F32] = {ACT_F32, &matmul_float<F32>};
    t.matmul[GGML_F16] = {ACT_F32, &matmul_float<F16>};
    t.matmul[GGML_BF16] = {ACT_F32, &matmul_float<BF16>};
    // F32 rows and ACT_F32 stay the reference's copies.
    t.dequantize_row[GGML_F16] = &dequantize_row<F16>;
    t.dequantize_row[GGML_BF16] = &dequantize_row<BF16>;
    t.dot_f32 = &dot_f32;
    t.axpy_f32 = &axpy_f32;
    t.dot_rows_f32 = &attention_rows::dot_rows<dot_f32>;
    t.weighted_rows_f32 = &attention_rows::weighted_rows<axpy_f32>;
}

}  // namespace edgeq::neon
