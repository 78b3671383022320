// A llama-style decoder: weights + KV cache + thread pool + preallocated scratch, and the
// forward pass over a batch of tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/kernels.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/threadpool.h"
#include "model/weights.h"

namespace edgeq {

class Model {
public:
    // Validates cfg and every tensor (throws std::invalid_argument). The tensor bytes are not
    // copied: they must outlive the Model.
    Model(ModelConfig cfg, const TensorMap& tensors, int n_ctx, int n_threads, const KernelTable& kt = kernels(),
          const LoadOptions& opt = {});

    // Runs tokens[0..n) at positions n_past() .. n_past() + n - 1 and appends them to the cache.
    // logits: all_logits ? (n, n_vocab) : (1, n_vocab) for the last token.
    // Throws (before touching the cache) if a token id is out of range or the context is full.
    void eval(const int32_t* tokens, int n, bool all_logits, float* logits);

    int n_past() const { return cache_.n_past(); }
    int n_ctx() const { return cache_.n_ctx(); }
    int n_threads() const { return pool_.size(); }
    void truncate(int n) { cache_.truncate(n); }
    void reset() { cache_.reset(); }
    const ModelConfig& config() const { return cfg_; }
    const ModelWeights& weights() const { return w_; }
    const KernelTable& kernel_table() const { return kt_; }

private:
    // The input every matmul of a group reads, quantized at most once per activation format.
    struct Input {
        const float* x = nullptr;  // (n_tok, dim), dim floats apart
        int n_tok = 0, dim = 0;
        bool ready[kNumActTypes] = {};
    };
    struct MatmulOut {
        const Matrix* w;
        float* y;     // Y[t * ldy + r]
        size_t ldy;
    };

    void forward_batch(const int32_t* tokens, int n, float* logits, bool all_logits);
    void attention(int layer, int n);
    void set_input(const float* x, int n_tok, int dim);
    // Y = X @ W^T for each output, all in one dispatch (their chunks share the thread pool).
    void matmuls(std::initializer_list<MatmulOut> outs);
    // fn(t) for each token t in [0, n), split over the pool when there are enough of them.
    template <class F> void for_tokens(int n, F&& fn);

    ModelConfig cfg_;
    const KernelTable& kt_;
    ModelWeights w_;
    KVCache cache_;
    ThreadPool pool_;
    int n_batch_;  // tokens per internal micro-batch: scratch is sized for it

    // Scratch, allocated once (sizes in floats unless noted).
    std::vector<float> x_;         // (n_batch, n_embd) residual stream
    std::vector<float> xb_;        // (n_batch, n_embd) normed input / projection output
    std::vector<float> q_;         // (n_batch, q_dim)
    std::vector<float> att_;       // (n_batch, q_dim) attention output
    std::vector<float> gate_;      // (n_batch, n_ff)
    std::vector<float> up_;        // (n_batch, n_ff)
    std::vector<float> scores_;    // (n_threads, n_ctx) attention weights per thread
    std::vector<float> rope_cs_;   // (n_batch, rope_dim) cos/sin per token of the batch
    std::vector<float> inv_freq_;  // (rope_dim / 2)
    std::vector<uint8_t> act_[kNumActTypes];  // (n_batch, act row bytes of the widest input)
    Input in_;
};

}  // namespace edgeq
