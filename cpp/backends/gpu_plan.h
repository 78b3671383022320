// How a model's weights and buffers are laid out on a GPU (host logic: built in every build and
// tested without a device). Each matrix keeps one of two device formats:
//   Fp4: MXFP4 / NVFP4 as the split codes + scales of backends/cuda/fp4_layout.h, multiplied by
//        the FP4 kernels that decode in registers (4.25 / 4.5 bits per weight on the device);
//   F16: every other type, dequantized on the host at load (the CPU's dequantize_row, then
//        rounded to IEEE half) and multiplied by the F16 kernels (16 bits per weight).
// A matrix's per-tensor scale (Matrix::scale: NVFP4's, BitNet's) is applied to its output.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/config.h"
#include "model/weights.h"

namespace edgeq::gpu {

enum class WeightFormat { Fp4, F16 };
WeightFormat weight_format(uint32_t type);
const char* weight_format_name(WeightFormat f);

struct MatrixPlan {
    std::string name;            // GGUF tensor name, for messages
    const Matrix* m = nullptr;   // the host view (valid while the ModelWeights live)
    WeightFormat format = WeightFormat::F16;
    size_t device_bytes = 0;
};

// Everything the device holds for a model, in bytes.
struct ModelPlan {
    // token_embd first, then per layer wq, wk, wv, wo, w_gate, w_up, w_down, then output unless
    // the output is tied to token_embd (the embedding matrix serves both).
    std::vector<MatrixPlan> matrices;
    int n_batch = 0;             // tokens per micro-batch the scratch is sized for
    size_t weight_bytes = 0;     // the matrices
    size_t vector_bytes = 0;     // norm weights (float)
    size_t kv_bytes = 0;         // K and V caches, float (n_layer, n_ctx, kv_dim) each
    size_t rope_bytes = 0;       // cos / sin table (n_ctx, rope_dim) floats
    size_t scratch_bytes = 0;    // activations and logits of one micro-batch
    size_t total() const { return weight_bytes + vector_bytes + kv_bytes + rope_bytes + scratch_bytes; }
    // "1.23 GiB on the device: weights 1.00 GiB (F16 30, FP4 181), KV cache ..." (one line).
    std::string summary() const;
};

// n_batch: tokens per micro-batch (the scratch holds n_batch rows of every activation and of the
// logits). Throws std::invalid_argument if n_ctx or n_batch is not positive.
ModelPlan plan_model(const ModelConfig& cfg, const ModelWeights& w, int n_ctx, int n_batch);

// How the GPU path loads the weights it plans from: every matrix in its file type (no ternary
// lookup-table or x16 repacking: the GPU copies are dequantized from the file's blocks).
inline LoadOptions load_options() {
    LoadOptions opt;
    opt.ternary_layout = TernaryLayout::Native;
    opt.interleave = false;
    return opt;
}

// The F16 device copy of a matrix: (n_out, n_in) halfs, row-major, from kt.dequantize_row.
// Throws std::invalid_argument naming the tensor if its type cannot be dequantized or a value
// does not fit in a half (|x| > 65504, or not finite).
std::vector<uint16_t> dequantize_f16(const Matrix& m, const KernelTable& kt, const std::string& name);

// The cos / sin table of every position: (n_ctx, rope_dim) floats, (cos, sin) of pos * inv_freq[i]
// at [pos * rope_dim + 2 i], the numbers ops::rope_angles gives the CPU forward.
std::vector<float> rope_table(const std::vector<float>& inv_freq, int rope_dim, int n_ctx);

}  // namespace edgeq::gpu
