#include "model/config.h"

#include <stdexcept>

namespace edgeq {

namespace {
void require(bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("invalid model config: " + what);
}
}  // namespace

void ModelConfig::finalize() {
    require(n_layer > 0, "n_layer must be positive, got " + std::to_string(n_layer));
    require(n_embd > 0, "n_embd must be positive, got " + std::to_string(n_embd));
    require(n_ff > 0, "n_ff must be positive, got " + std::to_string(n_ff));
    require(n_head > 0, "n_head must be positive, got " + std::to_string(n_head));
    require(n_head_kv > 0, "n_head_kv must be positive, got " + std::to_string(n_head_kv));
    require(n_head % n_head_kv == 0, "n_head (" + std::to_string(n_head) + ") must be a multiple of n_head_kv (" +
                                         std::to_string(n_head_kv) + ")");
    require(n_vocab > 0, "n_vocab must be positive, got " + std::to_string(n_vocab));
    if (head_dim == 0) {
        require(n_embd % n_head == 0, "n_embd (" + std::to_string(n_embd) + ") is not a multiple of n_head (" +
                                          std::to_string(n_head) + ")");
        head_dim = n_embd / n_head;
    }
    require(head_dim > 0 && head_dim % 2 == 0, "head_dim must be positive and even, got " + std::to_string(head_dim));
    if (rope_dim == 0) rope_dim = head_dim;
    require(rope_dim > 0 && rope_dim <= head_dim && rope_dim % 2 == 0,
            "rope_dim must be even and in [2, head_dim], got " + std::to_string(rope_dim));
    require(rope_base > 0.0f, "rope_base must be positive");
    require(rms_eps > 0.0f && rms_eps < 1.0f, "rms_eps must be in (0, 1)");
    require(rope_style == RopeStyle::Normal || rope_style == RopeStyle::NeoX, "unknown rope style");
    require(ffn_act == FfnAct::SiLU || ffn_act == FfnAct::ReluSqr, "unknown FFN activation");
    // Sizes that would overflow int arithmetic in the forward pass are rejected up front.
    const long long big = 1LL << 24;
    require(n_embd < big && n_ff < big && (long long)n_head * head_dim < big && n_vocab < (1LL << 28) &&
                n_layer < 100000,
            "dimensions are implausibly large");
}

}  // namespace edgeq
