// The model config from a GGUF file's `<arch>.*` metadata: the C++ twin of
// python/edgeq/model.py read_config, and the one table of the architectures edgeq runs
// (Python reads it through _core.arch_flags()).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/config.h"

namespace edgeq {

// How an architecture differs from llama, as ModelConfig flags.
//   llama         RoPE on adjacent pairs, SwiGLU
//   bitnet        llama.cpp's LLM_ARCH_BITNET (1bitLLM bitnet_b1_58 models): NeoX RoPE, SiLU,
//                 attn_sub_norm / ffn_sub_norm, optional per-matrix `<matrix>.scale`
//   bitnet-b1.58  bitnet.cpp's name for BitNet-b1.58-2B-4T (relu(g)^2 FFN); bitnet-25 its older name
struct ArchFlags {
    const char* arch;
    RopeStyle rope_style;
    FfnAct ffn_act;
    bool sub_norms;
    bool matmul_scales;
};
const std::vector<ArchFlags>& arch_table();
const ArchFlags* find_arch(const std::string& arch);  // nullptr if unsupported
std::string supported_archs();                         // "bitnet, bitnet-25, ..." (sorted)

constexpr int64_t kDefaultMaxCtx = 4096;

// The config of the model in g (validated with ModelConfig::finalize); throws GgufError naming
// the file and the problem (unsupported architecture, missing or bad key, MoE, RoPE scaling).
ModelConfig read_model_config(const GgufFile& g);

// `<arch>.context_length`, or kDefaultMaxCtx when absent; throws GgufError if not a positive int.
int64_t read_context_length(const GgufFile& g);

}  // namespace edgeq
