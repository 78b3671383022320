// AVX2 + FMA + F16C kernels for float weights (F32, F16, BF16) with float activations, the
// F16 / BF16 row conversions, dot_f32 and axpy_f32. Same results as kernels/ref/float.cpp up
// to float summation order (8 lanes, then a tree); conversions are exact.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention_rows.h"
#include "kernels/x86/avx2/avx2.h"
#include "kernels/x86/avx2/tiles.h"

namespace edgeq::avx2 {
namespace {

// 8 consecutive weights from element i as floats, and one weight as float (for tails).
struct F32 {
    static __m256 load8(const void* row, int i) { return _mm256_loadu_ps(static_cast<const float*>(row) + i); }
    static float load1(const void* row, int i) { return static_cast<const float*>(row)[i]; }
};
struct F16 {
    static __m256 load8(const void* row, int i) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const ggml_half*>(row) + i)));
    }
    static float load1(const void* row, int i) { return _cvtsh_ss(static_cast<const ggml_half*>(row)[i]); }
};
struct BF16 {
    static __m256 load8(const void* row, int i) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const ggml_bf16*>(row) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    static float load1(const void* row, int i) { return bf16_to_fp32(static_cast<const ggml_bf16*>(row)[i]); }
};

// w (n) -> y (n)
template <class L>
void dequantize_row(const void* w, float* y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, L::load8(w, i));
    for (; i < n; i++) y[i] = L::load1(w, i);
}

// Tile of R weight rows x T tokens: each 8-wide weight chunk is converted once and used for
// T tokens; R * T accumulators of 8 lanes (<= 12 of the 16 ymm registers).
template <class L>
struct FloatTile {
    static constexpr int kRows = 4, kToks = 3;  // prompt processing (GEMM)
    static constexpr int kGemvRows = 4;         // decode: 4 rows stream at once

    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        const void* w[R];
        const float* x[T];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) w[r] = a.W + (size_t)(r0 + r) * a.w_row_bytes;
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) x[t] = reinterpret_cast<const float*>(a.X + (size_t)(t0 + t) * a.x_row_bytes);
        __m256 acc[R][T];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
        const int n = a.n_in;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 xv[T];
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(x[t] + i);
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const __m256 wv = L::load8(w[r], i);
                #pragma GCC unroll 8
                for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
            }
        }
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                float sum = hsum(acc[r][t]);
                for (int j = i; j < n; j++) sum += L::load1(w[r], j) * x[t][j];
                a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = sum;
            }
    }
};

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1).
template <class L>
void matmul_float(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                  int n_in, int n_tok, int row0, int row1) {
    using K = FloatTile<L>;
    const TileArgs a{static_cast<const uint8_t*>(W), w_row_bytes, static_cast<const uint8_t*>(X), x_row_bytes,
                     Y, ldy, n_in};
    if (n_tok == 1) for_each_tile<K, K::kGemvRows, 1>(a, 1, row0, row1);
    else for_each_tile<K, K::kRows, K::kToks>(a, n_tok, row0, row1);
}

void quantize_act_f32(const float* x, void* xq, int n) { std::memcpy(xq, x, (size_t)n * sizeof(float)); }

// sum_i a[i] b[i]: four independent 8-lane accumulators (FMA latency), then the tails.
float dot_f32(const float* a, const float* b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

// y[i] += a * x[i] (fused: one rounding per element instead of the reference's two)
void axpy_f32(float a, const float* x, float* y, int n) {
    const __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

}  // namespace

void register_float(KernelTable& t) {
    t.matmul[GGML_F32] = {ACT_F32, &matmul_float<F32>};
    t.matmul[GGML_F16] = {ACT_F32, &matmul_float<F16>};
    t.matmul[GGML_BF16] = {ACT_F32, &matmul_float<BF16>};
    t.dequantize_row[GGML_F32] = &dequantize_row<F32>;
    t.dequantize_row[GGML_F16] = &dequantize_row<F16>;
    t.dequantize_row[GGML_BF16] = &dequantize_row<BF16>;
    t.quantize_act[ACT_F32] = &quantize_act_f32;
    t.dot_f32 = &dot_f32;
    t.axpy_f32 = &axpy_f32;
    t.dot_rows_f32 = &attention_rows::dot_rows<dot_f32>;
    t.weighted_rows_f32 = &attention_rows::weighted_rows<axpy_f32>;
}

}  // namespace edgeq::avx2
