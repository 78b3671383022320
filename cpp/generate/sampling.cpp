#include "generate/sampling.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace edgeq {

namespace {
// Sorted descending by logit, lower id first on ties.
bool before(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
}
}  // namespace

std::string SamplingParams::check() const {
    auto finite = [](float x) { return std::isfinite(x); };
    if (!finite(temp) || !finite(top_p) || !finite(min_p) || !finite(repeat_penalty) || !finite(frequency_penalty) ||
        !finite(presence_penalty))
        return "sampling parameters must be finite";
    if (!(top_p >= 0.0f && top_p <= 1.0f)) return "top_p must be in [0, 1], got " + std::to_string(top_p);
    if (!(min_p >= 0.0f && min_p <= 1.0f)) return "min_p must be in [0, 1], got " + std::to_string(min_p);
    if (!(repeat_penalty > 0.0f)) return "repeat_penalty must be > 0, got " + std::to_string(repeat_penalty);
    if (repeat_last_n < -1) return "repeat_last_n must be >= -1, got " + std::to_string(repeat_last_n);
    if (seed < -1) return "seed must be -1 (random) or >= 0, got " + std::to_string(seed);
    return "";
}

Sampler::Sampler(const SamplingParams& params, int n_ctx) : p_(params) {
    const std::string err = params.check();
    if (!err.empty()) throw std::invalid_argument(err);
    seed_ = params.seed >= 0 ? (uint64_t)params.seed : (uint64_t)std::random_device{}();
    rng_.seed(seed_);
    const int last_n = params.repeat_last_n < 0 ? n_ctx : params.repeat_last_n;
    history_max_ = (size_t)std::max(last_n, 0);
}

void Sampler::accept(int32_t token) {
    if (history_max_ == 0) return;
    history_.push_back(token);
    if (history_.size() > history_max_) history_.pop_front();
}

int32_t Sampler::sample(const float* logits, int n_vocab) {
    // Penalties: for each distinct token t seen c times, logit /= repeat if logit > 0 else
    // logit *= repeat, then logit -= c * frequency + presence.
    work_.assign(logits, logits + n_vocab);
    if (p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f) {
        std::map<int32_t, int> counts;
        for (int32_t t : history_)
            if (t >= 0 && t < n_vocab) counts[t]++;
        for (const auto& [t, c] : counts) {
            float& l = work_[t];
            l = l <= 0.0f ? l * p_.repeat_penalty : l / p_.repeat_penalty;
            l -= (float)c * p_.frequency_penalty + p_.presence_penalty;
        }
    }
    if (p_.temp <= 0.0f) return (int32_t)(std::max_element(work_.begin(), work_.end()) - work_.begin());

    cand_.resize(n_vocab);
    for (int i = 0; i < n_vocab; i++) cand_[i] = {work_[i], i};
    bool sorted = false;
    if (p_.top_k > 0 && p_.top_k < n_vocab) {
        std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), before);
        cand_.resize(p_.top_k);
        sorted = true;
    } else if (p_.top_p < 1.0f) {
        std::sort(cand_.begin(), cand_.end(), before);
        sorted = true;
    }
    if (p_.top_p < 1.0f && cand_.size() > 1 && sorted) {
        // The smallest prefix whose probability mass reaches top_p (of the candidates left).
        const double mx = cand_[0].first;
        double total = 0.0;
        for (const auto& c : cand_) total += std::exp((double)c.first - mx);
        double cum = 0.0;
        size_t keep = cand_.size();
        for (size_t i = 0; i < cand_.size(); i++) {
            cum += std::exp((double)cand_[i].first - mx);
            if (cum / total >= p_.top_p) {
                keep = i + 1;
                break;
            }
        }
        cand_.resize(std::max<size_t>(keep, 1));
    }
    if (p_.min_p > 0.0f && cand_.size() > 1) {
        // prob_i >= min_p * prob_max  <=>  l_i >= l_max + log(min_p); the order is kept.
        float mx = cand_[0].first;
        for (const auto& c : cand_) mx = std::max(mx, c.first);
        const double threshold = (double)mx + std::log((double)p_.min_p);
        size_t w = 0;
        for (size_t i = 0; i < cand_.size(); i++)
            if ((double)cand_[i].first >= threshold) cand_[w++] = cand_[i];
        cand_.resize(w);
    }
    // Draw from softmax(logits / temp).
    double mx = cand_[0].first;
    for (const auto& c : cand_) mx = std::max(mx, (double)c.first);
    std::vector<double> cum(cand_.size());
    double acc = 0.0;
    for (size_t i = 0; i < cand_.size(); i++) {
        acc += std::exp(((double)cand_[i].first - mx) / (double)p_.temp);
        cum[i] = acc;
    }
    const double u = (double)(rng_() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1), 53 bits
    const size_t i = std::upper_bound(cum.begin(), cum.end(), u * acc) - cum.begin();
    return cand_[std::min(i, cand_.size() - 1)].second;
}

}  // namespace edgeq
