// Scalar reference for float weights (F32, F16, BF16) with float activations (ACT_F32), the
// float helpers dot_f32 / axpy_f32, and the exact F16 / BF16 -> F32 row conversions.
// Plain loops, float accumulation in index order: the spec the SIMD versions are tested against.
#include <cstring>

#include "kernels/attention_rows.h"
#include "kernels/ref/ref.h"

namespace edgeq::ref {
namespace {

// Element i of one weight row, as float (exact for all three types).
inline float load_f32(const void* row, int i) { return static_cast<const float*>(row)[i]; }
inline float load_f16(const void* row, int i) { return fp16_to_fp32(static_cast<const ggml_half*>(row)[i]); }
inline float load_bf16(const void* row, int i) { return bf16_to_fp32(static_cast<const ggml_bf16*>(row)[i]); }

// w (n) -> y (n)
template <float (*Load)(const void*, int)>
void dequantize_row(const void* w, float* y, int n) {
    for (int i = 0; i < n; i++) y[i] = Load(w, i);
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1):
//   Y[t * ldy + r] = sum_i W[r][i] * X[t][i]   (float sum, i increasing)
template <float (*Load)(const void*, int)>
void matmul_float(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                  int n_in, int n_tok, int row0, int row1) {
    for (int r = row0; r < row1; r++) {
        const void* w = static_cast<const uint8_t*>(W) + (size_t)r * w_row_bytes;
        for (int t = 0; t < n_tok; t++) {
            const float* x = reinterpret_cast<const float*>(static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes);
            float sum = 0.0f;
            for (int i = 0; i < n_in; i++) sum += Load(w, i) * x[i];
            Y[(size_t)t * ldy + r] = sum;
        }
    }
}

// ACT_F32 "quantization" is a copy: x (n) -> xq (n floats).
void quantize_act_f32(const float* x, void* xq, int n) { std::memcpy(xq, x, (size_t)n * sizeof(float)); }

// sum_i a[i] b[i], float sum in index order.
float dot_f32(const float* a, const float* b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

// y[i] += a * x[i]
void axpy_f32(float a, const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

}  // namespace

void register_float(KernelTable& t) {
    t.matmul[GGML_F32] = {ACT_F32, &matmul_float<load_f32>};
    t.matmul[GGML_F16] = {ACT_F32, &matmul_float<load_f16>};
    t.matmul[GGML_BF16] = {ACT_F32, &matmul_float<load_bf16>};
    t.dequantize_row[GGML_F32] = &dequantize_row<load_f32>;
    t.dequantize_row[GGML_F16] = &dequantize_row<load_f16>;
    t.dequantize_row[GGML_BF16] = &dequantize_row<load_bf16>;
    t.quantize_act[ACT_F32] = &quantize_act_f32;
    t.dot_f32 = &dot_f32;
    t.axpy_f32 = &axpy_f32;
    t.dot_rows_f32 = &attention_rows::dot_rows<dot_f32>;
    t.weighted_rows_f32 = &attention_rows::weighted_rows<axpy_f32>;
}

}  // namespace edgeq::ref
