// Hyper-parameters of a llama-style decoder, as read from GGUF metadata by the Python glue.
#pragma once
#include <string>

namespace edgeq {

// How RoPE pairs up the dimensions of a head it rotates.
enum class RopeStyle : int {
    Normal = 0,  // adjacent pairs (2i, 2i+1): llama (GGUF q/k weights are permuted for this)
    NeoX = 1,    // split halves (i, i + rope_dim/2): GPT-NeoX, Qwen2, Phi, ...
};

// The FFN's gate activation: h = act(x Wg^T) * (x Wu^T).
enum class FfnAct : int {
    SiLU = 0,     // silu(g) = g / (1 + exp(-g)): SwiGLU (llama, 1bitLLM BitNet)
    ReluSqr = 1,  // relu(g)^2: BitNet-b1.58-2B-4T
};

// Architecture differences are flags here; the forward pass reads them in place.
struct ModelConfig {
    std::string arch = "llama";
    int n_layer = 0;
    int n_embd = 0;       // width of the residual stream
    int n_ff = 0;         // hidden width of the SwiGLU FFN
    int n_head = 0;       // query heads
    int n_head_kv = 0;    // key/value heads (grouped-query attention: n_head % n_head_kv == 0)
    int head_dim = 0;     // per-head width; 0 = n_embd / n_head
    int n_vocab = 0;
    int rope_dim = 0;     // dimensions of each head that RoPE rotates; 0 = head_dim
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    RopeStyle rope_style = RopeStyle::Normal;
    FfnAct ffn_act = FfnAct::SiLU;
    // BitNet's extra RMSNorms: attn_sub_norm (q_dim) on the attention output before Wo, and
    // ffn_sub_norm (n_ff) on the gated FFN hidden state before W_down.
    bool sub_norms = false;
    // BitNet's optional per-matrix scales: a 1-element tensor `<matrix>.scale` (e.g.
    // blk.0.attn_q.scale) multiplies that matmul's output. Without this flag they are ignored.
    bool matmul_scales = false;

    int q_dim() const { return n_head * head_dim; }      // width of Q and of the attention output
    int kv_dim() const { return n_head_kv * head_dim; }  // width of K and V

    // Fills the defaults (head_dim, rope_dim) and throws std::invalid_argument naming the first
    // inconsistent field.
    void finalize();
};

}  // namespace edgeq
