// Token sampling with llama.cpp's parameter names, defaults and default chain order, the C++ twin
// of python/edgeq/sampling.py:
//     penalties -> top_k -> top_p -> min_p -> temperature -> dist
// top_k, top_p and min_p all see the untempered distribution (temperature comes last, as in
// llama.cpp); temp <= 0 means greedy: the argmax of the penalized logits (lowest id on ties).
// The random stream is mt19937_64 (Python uses numpy's PCG64): a seed reproduces a run within
// the C API, not across the two.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace edgeq {

struct SamplingParams {
    float temp = 0.8f;
    int top_k = 40;                  // <= 0: off
    float top_p = 0.95f;             // 1.0: off
    float min_p = 0.05f;             // 0.0: off
    float repeat_penalty = 1.0f;     // 1.0: off
    int repeat_last_n = 64;          // tokens of history penalized; 0: off, -1: context size
    float frequency_penalty = 0.0f;  // 0.0: off
    float presence_penalty = 0.0f;   // 0.0: off
    int64_t seed = -1;               // -1: random

    // "" if valid, else a one-line message naming the parameter (the values llama.cpp rejects).
    std::string check() const;
};

class Sampler {
public:
    // params must pass check() (throws std::invalid_argument otherwise).
    Sampler(const SamplingParams& params, int n_ctx);

    void accept(int32_t token);  // record a token (prompt or generated) for the penalties
    // logits: (n_vocab) -> a token id.
    int32_t sample(const float* logits, int n_vocab);
    uint64_t seed() const { return seed_; }

private:
    using Candidate = std::pair<float, int32_t>;  // (logit, id)
    SamplingParams p_;
    uint64_t seed_;
    std::mt19937_64 rng_;
    size_t history_max_;
    std::deque<int32_t> history_;
    std::vector<float> work_;          // (n_vocab) penalized logits
    std::vector<Candidate> cand_;
};

}  // namespace edgeq
