#include "model/kv_cache.h"

#include <new>
#include <stdexcept>
#include <string>

namespace edgeq {

KVCache::KVCache(int n_layer, int n_ctx, int kv_dim) : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim) {
    if (n_ctx < 1) throw std::invalid_argument("n_ctx must be positive, got " + std::to_string(n_ctx));
    if (n_layer < 1 || kv_dim < 1) throw std::invalid_argument("KV cache needs positive n_layer and kv_dim");
    const size_t n = (size_t)n_layer * n_ctx * kv_dim;
    try {
        k_.reset(new float[n]);
        v_.reset(new float[n]);
    } catch (const std::bad_alloc&) {
        throw std::runtime_error("cannot allocate the KV cache: " + std::to_string(2 * n * sizeof(float) >> 20) +
                                 " MiB for n_ctx = " + std::to_string(n_ctx) + " (use a smaller n_ctx)");
    }
}

void KVCache::check_room(int n) const {
    if (n < 0 || (long)n_past_ + n > n_ctx_)
        throw std::length_error("context is full: " + std::to_string(n_past_) + " positions used + " +
                                std::to_string(n) + " new tokens > n_ctx = " + std::to_string(n_ctx_));
}

void KVCache::advance(int n) {
    check_room(n);
    n_past_ += n;
}

void KVCache::truncate(int n) {
    if (n < 0 || n > n_past_)
        throw std::out_of_range("truncate(" + std::to_string(n) + "): must be in [0, n_past = " +
                                std::to_string(n_past_) + "]");
    n_past_ = n;
}

}  // namespace edgeq
