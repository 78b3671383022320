// Matmuls with F16 weights (every type but MXFP4 / NVFP4 is dequantized to F16 at load, see
// backends/gpu_plan.h): Y (n_tok, n_out) = X (n_tok, n_in) @ W^T, W (n_out, n_in) halfs
// row-major, X and Y float row-major; all device pointers; asynchronous on the default stream.
// Products and sums in float (the weights are exact in float): the only rounding beyond the CPU's
// float math is the order of the sums.
#pragma once
#include <cstdint>

namespace edgeq::gpu {

// n_tok <= 8 per launch (loops over groups of 8): one warp per weight row, 16-byte weight loads.
void launch_f16_gemv(const uint16_t* W, int n_out, int n_in, const float* X, float* Y, int n_tok);
// Any n_tok: 64 x 64 output tiles through shared memory (float FMA, no tensor cores).
void launch_f16_gemm(const uint16_t* W, int n_out, int n_in, const float* X, float* Y, int n_tok);

}  // namespace edgeq::gpu
