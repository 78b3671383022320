// Optional accelerator backends. Each is a build option with a stub (no_cuda.cpp): callers never
// #ifdef. Without a usable device every entry point but the two queries throws
// std::runtime_error("CUDA not available: <reason>").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgeq {

bool cuda_available();
// One line: the device and what the build runs on it, or why CUDA is not available.
std::string cuda_status();

// Y (n_tok, n_out) = X (n_tok, n_in) @ W^T on the GPU. W: the GGUF bytes of an MXFP4 or NVFP4
// matrix (n_out rows of n_in values; uploaded and repacked for this call), X: float (n_tok, n_in).
// path: "auto", "gemv", "wmma" or "fp4mma" (see backends/cuda/fp4_kernels.h). Does not apply an
// NVFP4 per-tensor scale (as the CPU matmul kernels do not).
std::vector<float> cuda_matmul(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in, const float* x,
                               int n_tok, const std::string& path = "auto");

// GEMV / GEMM timing on the device: the median of `iters` calls of one path (weights resident),
// weight bytes read per second, and a device-to-device cudaMemcpy of the same bytes for scale.
struct CudaBenchResult {
    std::string path, device;
    double seconds = 0;         // median per call
    double weight_gbps = 0;     // GGUF weight bytes / seconds / 1e9
    double memcpy_gbps = 0;     // (read + write) bytes of a device-to-device copy / seconds / 1e9
};
CudaBenchResult cuda_benchmark(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in, int n_tok,
                               const std::string& path, int iters);

}  // namespace edgeq
