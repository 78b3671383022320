#include "generate/generate.h"

#include <chrono>
#include <stdexcept>
#include <vector>

#include "generate/utf8_stream.h"

namespace edgeq {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerationStats generate(Model& model, const Tokenizer& tok, const int32_t* prompt, int n_prompt, Sampler& sampler,
                         int max_tokens, const TokenCallback& on_token) {
    if (max_tokens < -1) throw std::invalid_argument("max_tokens must be -1 or >= 0, got " + std::to_string(max_tokens));
    if (n_prompt <= 0) throw std::invalid_argument("the prompt is empty");
    const int n_ctx = model.n_ctx();
    if (model.n_past() + (long long)n_prompt > n_ctx)
        throw std::invalid_argument("the prompt is " + std::to_string(n_prompt) + " tokens but only " +
                                    std::to_string(n_ctx - model.n_past()) + " fit in the context (" +
                                    std::to_string(n_ctx) + " tokens, " + std::to_string(model.n_past()) +
                                    " in use)");
    GenerationStats stats;
    if (max_tokens == 0) return stats;

    const int n_vocab = model.config().n_vocab;
    std::vector<float> logits(n_vocab);
    const auto t0 = std::chrono::steady_clock::now();
    model.eval(prompt, n_prompt, false, logits.data());
    stats.prompt_tokens = n_prompt;
    stats.prompt_seconds = seconds_since(t0);
    for (int i = 0; i < n_prompt; i++) sampler.accept(prompt[i]);

    Utf8Stream text;
    const auto t1 = std::chrono::steady_clock::now();
    for (;;) {
        const int32_t token = sampler.sample(logits.data(), n_vocab);
        if (tok.is_stop(token)) {
            stats.stop_reason = StopReason::Eos;
            break;
        }
        stats.generated_tokens++;
        sampler.accept(token);
        const std::string piece = token < tok.n_vocab() ? text.push(tok.token_to_bytes(token)) : std::string();
        if (!on_token(token, piece)) {
            stats.stop_reason = StopReason::Callback;
            break;
        }
        if (max_tokens >= 0 && stats.generated_tokens >= max_tokens) {
            stats.stop_reason = StopReason::Length;
            break;
        }
        if (model.n_past() >= n_ctx) {
            stats.stop_reason = StopReason::Context;
            break;
        }
        model.eval(&token, 1, false, logits.data());
    }
    if (stats.stop_reason != StopReason::Callback) {
        const std::string tail = text.flush();
        if (!tail.empty()) on_token(-1, tail);
    }
    stats.generation_seconds = seconds_since(t1);
    return stats;
}

}  // namespace edgeq
