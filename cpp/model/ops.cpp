#include "model/ops.h"

#include <cmath>

namespace edgeq::ops {

void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
    double ss = 0.0;  // double: a 4k-wide sum of squares in float loses digits
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / std::sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

void softmax(float* x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void swiglu(float* a, const float* b, int n) {
    for (int i = 0; i < n; i++) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

void relu_sqr_gate(float* a, const float* b, int n) {
    for (int i = 0; i < n; i++) {
        const float r = a[i] > 0.0f ? a[i] : 0.0f;
        a[i] = r * r * b[i];
    }
}

void add(float* y, const float* x, int n) {
    for (int i = 0; i < n; i++) y[i] += x[i];
}

std::vector<float> rope_inv_freq(int rope_dim, float base, const std::vector<float>& rope_freqs) {
    std::vector<float> inv_freq(rope_dim / 2);
    for (int i = 0; i < rope_dim / 2; i++) {
        double f = std::pow((double)base, -2.0 * i / rope_dim);
        if (!rope_freqs.empty()) f /= rope_freqs[i];
        inv_freq[i] = (float)f;
    }
    return inv_freq;
}

void rope_angles(float* cos_sin, const float* inv_freq, int rope_dim, int pos) {
    // The angle in double: pos * freq reaches thousands of radians, where float would lose
    // ~1e-4 rad of phase.
    for (int i = 0; i < rope_dim / 2; i++) {
        const double angle = (double)pos * inv_freq[i];
        cos_sin[2 * i] = (float)std::cos(angle);
        cos_sin[2 * i + 1] = (float)std::sin(angle);
    }
}

void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_sin, bool neox) {
    const int half = rope_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float* v = x + (long)h * head_dim;
        for (int i = 0; i < half; i++) {
            const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            const int a = neox ? i : 2 * i;
            const int b = neox ? i + half : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

}  // namespace edgeq::ops
