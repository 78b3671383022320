// The forward pass's operations on the device, apart from attention's matmul-free parts kept
// here too: a weight matrix in either device format and its matmul, embedding rows, RMSNorm
// (with the residual add fused), RoPE, causal attention over the device KV cache, the FFN gate.
// Device pointers, row-major (token, feature); asynchronous on the default stream; launch errors
// throw std::runtime_error "CUDA error in ...". The numbers follow model/ops.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/cuda/fp4_kernels.h"
#include "backends/gpu_plan.h"

namespace edgeq::gpu {

// A matrix W (n_out, n_in) on the device: FP4 (fp4 view) or F16 (f16, n_out x n_in halfs);
// y = scale * (W x).
struct DeviceWeight {
    WeightFormat format = WeightFormat::F16;
    int n_out = 0, n_in = 0;
    float scale = 1.0f;
    DeviceFp4 fp4;
    const uint16_t* f16 = nullptr;
};

// Y (n_tok, n_out) = scale * X (n_tok, n_in) @ W^T. FP4: the path resolve_path picks for n_tok
// (scratch: fp4mma's quantized activations, fp4mma_scratch_bytes; may be null otherwise);
// F16: gemv up to 8 tokens, else the tiled GEMM.
void matmul(const DeviceWeight& W, const float* X, float* Y, int n_tok, uint8_t* scratch);

// x (n, n_in) = rows tokens[0..n) of E, dequantized (FP4: bit-exact with the CPU's dequantizer;
// F16: the F16 copy). tokens: device int32.
void embed_rows(const DeviceWeight& E, const int32_t* tokens, int n, float* x);

// For each of n_tok rows: [x += residual, if residual]; out = x / sqrt(mean(x^2) + eps) * w.
// out may be x (then residual must be null).
void rmsnorm(float* out, float* x, const float* residual, const float* w, int n_tok, int dim, float eps);

// RoPE on q (n_tok rows, q_stride floats apart, n_head heads) and k (k_stride apart, n_head_kv
// heads) of consecutive positions; cos_sin: the rope table (gpu_plan.h rope_table) at the first
// token's position.
void rope(float* q, int q_stride, int n_head, float* k, int k_stride, int n_head_kv, int n_tok, int head_dim,
          int rope_dim, const float* cos_sin, bool neox);

// Causal grouped-query attention: query t (of n_tok, at position pos0 + t) against cache rows
// [0, pos0 + t] of k_cache / v_cache ((n_ctx, kv_dim) planes of one layer); out (n_tok, q_dim).
// Scores scaled by 1 / sqrt(head_dim); softmax in float with the running maximum. head_dim <= 256.
void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int n_tok, int pos0,
               int n_head, int n_head_kv, int head_dim);

// gate (n) = silu(gate) * up, or relu(gate)^2 * up.
void ffn_gate(float* gate, const float* up, size_t n, bool relu_sqr);

}  // namespace edgeq::gpu
