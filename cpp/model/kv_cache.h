// Key/value cache: float32, one (n_ctx, kv_dim) plane per layer for K and one for V.
// Position p of layer l: k(l, p) points at kv_dim floats (the n_head_kv heads, head_dim each).
// The matmuls of the forward pass write K and V straight into it.
#pragma once
#include <memory>

namespace edgeq {

class KVCache {
public:
    KVCache(int n_layer, int n_ctx, int kv_dim);

    int n_ctx() const { return n_ctx_; }
    int kv_dim() const { return kv_dim_; }
    int n_past() const { return n_past_; }

    float* k(int layer, int pos) { return k_.get() + ((size_t)layer * n_ctx_ + pos) * kv_dim_; }
    float* v(int layer, int pos) { return v_.get() + ((size_t)layer * n_ctx_ + pos) * kv_dim_; }

    // Throws std::length_error unless n_past() + n <= n_ctx().
    void check_room(int n) const;
    // Marks n more positions as filled (after a batch has been written).
    void advance(int n);
    // Rewinds to n positions (0 <= n <= n_past()): the prefix [0, n) stays valid.
    void truncate(int n);
    void reset() { n_past_ = 0; }

private:
    int n_layer_, n_ctx_, kv_dim_;
    int n_past_ = 0;
    // Uninitialised on purpose: pages of an unused long context are never touched.
    std::unique_ptr<float[]> k_, v_;
};

}  // namespace edgeq
