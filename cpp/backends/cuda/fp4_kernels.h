// The FP4 GPU kernels and their host-side launchers. Y (n_tok, n_out) = X (n_tok, n_in) @ W^T with
// W in the GPU layout of fp4_layout.h (device copies of its codes and scales), X and Y float,
// row-major, on the device. Paths:
//   gemv   n_tok <= 8: one warp per 2 weight rows, codes decoded in registers (fp4_decode.h) and
//          multiplied with the float activations in float (FMA); scales applied per group.
//   wmma   any n_tok, sm_80+: 64 x 64 tiles, codes decoded in registers to bf16 (exact: <= 6
//          significant bits), activations rounded to bf16, bf16 tensor cores, float accumulators.
//   fp4mma sm_120a only (RTX 50 / RTX PRO Blackwell): activations quantized on the GPU to the
//          weight's own format (W4A4, as llama.cpp's Blackwell MMQ), then PTX
//          mma.sync.kind::mxf4[nvf4].block_scale m16n8k64 with the E8M0 / UE4M3 scales applied
//          by the tensor core. sm_100 (B200) would need tcgen05 / UMMA: not implemented.
#pragma once
#include <cstdint>
#include <string>

namespace edgeq::gpu {

struct DeviceFp4 {
    uint32_t type = 0;
    int n_out = 0, n_in = 0, group = 0;
    const uint8_t* codes = nullptr;   // device (n_out, n_in / 2)
    const uint8_t* scales = nullptr;  // device (n_out, n_in / group)
};

enum class MatmulPath { Auto, Gemv, Wmma, Fp4Mma };
MatmulPath parse_path(const std::string& name);  // "auto", "gemv", "wmma", "fp4mma"; throws otherwise
const char* path_name(MatmulPath p);

// The path `Auto` takes for n_tok tokens on a device of compute capability major.minor (host
// logic, testable without a device): gemv up to 8 tokens, else fp4mma on sm_120 when the build has
// it and `allow_fp4_act` (W4A4 changes the numbers: opt in), else wmma on sm_80+, else gemv.
MatmulPath choose_path(MatmulPath requested, int n_tok, int cc_major, int cc_minor, bool fp4mma_compiled,
                       bool allow_fp4_act);

// Launchers (asynchronous on the default stream). X, Y device pointers. Throw std::runtime_error
// "CUDA error: ..." on a launch failure. scratch: device bytes for fp4mma's quantized X, at least
// fp4mma_scratch_bytes(W, n_tok).
void launch_gemv(const DeviceFp4& W, const float* X, float* Y, int n_tok);
void launch_wmma(const DeviceFp4& W, const float* X, float* Y, int n_tok);
size_t fp4mma_scratch_bytes(const DeviceFp4& W, int n_tok);
void launch_fp4mma(const DeviceFp4& W, const float* X, float* Y, int n_tok, uint8_t* scratch);
// One of the three by name (p resolved, not Auto); scratch as for launch_fp4mma when p is Fp4Mma.
void launch_path(MatmulPath p, const DeviceFp4& W, const float* X, float* Y, int n_tok, uint8_t* scratch);
bool fp4mma_compiled();  // the build holds sm_120a code for the native path
// The current device can run this build's kernels (a binary or PTX for its architecture); if
// not, *why says so.
bool kernels_runnable(std::string* why);

// The activation quantizer of the fp4mma path, run on the host (same code as the kernel): one row
// of n floats -> codes (n / 2 bytes, natural order) and scales (n / group bytes).
void quantize_act_fp4_host(uint32_t type, const float* x, int n, uint8_t* codes, uint8_t* scales);

}  // namespace edgeq::gpu
