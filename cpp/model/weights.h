// The weights of a llama-style model: pointers into the caller's (memory-mapped) GGUF bytes,
// never copies, except the small norm vectors, which are converted to float at load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernels.h"
#include "model/config.h"

namespace edgeq {

// One tensor as handed over by the loader. shape is in GGUF order: shape[0] is the row length.
struct TensorView {
    uint32_t type = 0;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
};
using TensorMap = std::map<std::string, TensorView>;

// W (n_out, n_in): n_out rows of GGUF blocks, row_bytes apart. y = scale * (W x).
struct Matrix {
    uint32_t type = 0;
    int n_in = 0, n_out = 0;
    size_t row_bytes = 0;
    const uint8_t* data = nullptr;
    ActType act = ACT_F32;  // activation format its kernel consumes
    MatmulFn fn = nullptr;
    float scale = 1.0f;     // optional per-tensor output scale `<name>.scale` (BitNet, NVFP4)

    // A second stored form of the same weights, used for batches of at least prefill_min_tokens
    // tokens (0: none). apply_ternary_layout keeps the native TQ form here when it converts a
    // matrix to TL2: TL2 reads fewer bytes (decode is bandwidth-bound), the TQ kernels do more
    // multiply-adds per cycle (prefill is compute-bound: AVX-512 VNNI). Both give the same bits.
    struct Form {
        uint32_t type = 0;
        size_t row_bytes = 0;
        const uint8_t* data = nullptr;
        ActType act = ACT_F32;
        MatmulFn fn = nullptr;
    };
    Form prefill;
    int prefill_min_tokens = 0;
};

struct LayerWeights {
    std::vector<float> attn_norm;  // (n_embd)
    Matrix wq;                     // (q_dim, n_embd)
    Matrix wk;                     // (kv_dim, n_embd)
    Matrix wv;                     // (kv_dim, n_embd)
    std::vector<float> attn_sub_norm;  // (q_dim) sub_norms only, else empty
    Matrix wo;                     // (n_embd, q_dim)
    std::vector<float> ffn_norm;   // (n_embd)
    Matrix w_gate;                 // (n_ff, n_embd)
    Matrix w_up;                   // (n_ff, n_embd)
    std::vector<float> ffn_sub_norm;  // (n_ff) sub_norms only, else empty
    Matrix w_down;                 // (n_embd, n_ff)
};

// How ternary (TQ2_0 / TQ1_0) projection matrices are kept (kernels/ternary_lut.h):
//   Native: as in the file (the TQ multiply-add kernels);
//   TL:     converted at load to EDGEQ_TL2 (lookup-table kernels, 1.69 bits per weight); an error
//           if a matrix cannot be converted losslessly (rows whose blocks have different scales);
//   Auto:   TL when every ternary matrix converts losslessly (BitNet models), else Native.
// Both give the same logits bit for bit (the TL kernels keep the TQ reference's arithmetic).
enum class TernaryLayout { Auto, Native, TL, TL2, TL2D };
//   TL2, TL2D: that lookup-table layout (TL2D: ternary_lut_dword.h, AVX-512 VBMI), as TL.
//   TL picks TL2D where the kernel table has SIMD kernels for it, else TL2; Auto the same.
TernaryLayout parse_ternary_layout(const std::string& s);  // "auto" | "native" | "tl" | "tl2" | "tl2d"

struct LoadOptions {
    TernaryLayout ternary_layout = TernaryLayout::Auto;
    // Q4_0 / Q4_1 / Q5_0 / Q8_0 / Q4_K matrices are repacked at load into their x16 layouts
    // (kernels/interleave.h) where the kernel table has SIMD kernels for them (model/interleave_layout.h).
    bool interleave = true;
};

struct ModelWeights {
    Matrix token_embd;               // (n_vocab, n_embd): rows are dequantized for the lookup
    DequantizeRowFn embd_row = nullptr;
    std::vector<LayerWeights> layers;
    std::vector<float> output_norm;  // (n_embd)
    Matrix output;                   // (n_vocab, n_embd): `output.weight` or tied token_embd
    bool tied_output = false;
    std::vector<float> rope_freqs;   // (rope_dim / 2) divisors of the RoPE frequencies, or empty

    // What the loader did with the ternary matrices: "tl", "native", or "none" (it has none);
    // ternary_note: why Auto kept them native (the first matrix that cannot convert), else empty.
    std::string ternary_layout = "none";
    std::string ternary_note;

    // Bytes the model owns instead of borrowing them from the GGUF mapping: matrices converted
    // or repacked at load (Matrix::data may point here). 64-byte aligned, zero-filled; the
    // address stays valid for the lifetime of the weights (and of their copies).
    uint8_t* allocate(size_t nbytes);
    std::vector<std::shared_ptr<uint8_t>> owned;
};

// The matrices the forward pass multiplies with, with their GGUF names: every layer's seven
// projections and an untied output (a tied output is token_embd, whose rows are also looked up).
std::vector<std::pair<Matrix*, std::string>> projection_matrices(ModelWeights& w);

// Checks every tensor's presence, type (a kernel must exist in `kt`), shape and byte size
// against `cfg`, then builds the weight views and applies opt.ternary_layout. Throws
// std::invalid_argument naming the tensor.
ModelWeights load_weights(const ModelConfig& cfg, const TensorMap& tensors, const KernelTable& kt,
                          const LoadOptions& opt = {});

}  // namespace edgeq
