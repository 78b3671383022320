// Attention's inner loops over cached positions as one kernel call each, built from an ISA's own
// dot_f32 / axpy_f32 (template arguments, so each ISA's file inlines its functions: no call per
// position). Same operations in the same order as calling dot_f32 / axpy_f32 per row, so the
// results equal the per-row calls bit for bit.
#pragma once
#include <cstddef>
#include <cstring>

namespace edgeq::attention_rows {

// s[j] = Dot(q, K + j * stride, n) * scale for j in [0, m): q (n), K m rows `stride` floats apart.
template <float (*Dot)(const float*, const float*, int)>
void dot_rows(const float* q, const float* K, size_t stride, int m, int n, float scale, float* s) {
    for (int j = 0; j < m; j++) s[j] = Dot(q, K + (size_t)j * stride, n) * scale;
}

// out (n) = sum_j w[j] V[j * stride ..], accumulated in row order j = 0 .. m-1 (out overwritten).
template <void (*Axpy)(float, const float*, float*, int)>
void weighted_rows(const float* w, const float* V, size_t stride, int m, int n, float* out) {
    std::memset(out, 0, sizeof(float) * (size_t)n);
    for (int j = 0; j < m; j++) Axpy(w[j], V + (size_t)j * stride, out, n);
}

}  // namespace edgeq::attention_rows
