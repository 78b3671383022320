// The small per-token operations of the forward pass, as plain loops (they are a tiny fraction
// of the work next to the matmuls, which go through the KernelTable).
#pragma once
#include <vector>

namespace edgeq::ops {

// out (n) = x / sqrt(mean(x^2) + eps) * w. out may alias x.
void rmsnorm(float* out, const float* x, const float* w, int n, float eps);

// In-place softmax over x (n), numerically stable (max subtracted).
void softmax(float* x, int n);

// a (n) = silu(a) * b = a / (1 + exp(-a)) * b: the SwiGLU gate.
void swiglu(float* a, const float* b, int n);

// a (n) = relu(a)^2 * b: BitNet-b1.58's squared-ReLU gate.
void relu_sqr_gate(float* a, const float* b, int n);

// y (n) += x (n).
void add(float* y, const float* x, int n);

// RoPE: rotates the first rope_dim dimensions of each of n_heads heads (head_dim apart in x) by
// the angles pos * inv_freq[i], i < rope_dim / 2. cos_sin holds (cos, sin) of those angles,
// 2 * (rope_dim / 2) floats, computed once per position by rope_angles.
// neox = false: pairs (2i, 2i+1); neox = true: pairs (i, i + rope_dim / 2).
// inv_freq (rope_dim / 2): base^(-2i / rope_dim), divided by the model's frequency factors
// rope_freqs[i] when it has them (rope_freqs empty: none). Shared by the CPU and GPU forwards.
std::vector<float> rope_inv_freq(int rope_dim, float base, const std::vector<float>& rope_freqs);
void rope_angles(float* cos_sin, const float* inv_freq, int rope_dim, int pos);
void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_sin, bool neox);

}  // namespace edgeq::ops
