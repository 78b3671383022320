// The generation loop (python/edgeq/generate.py without stop strings): evaluate the prompt in one
// batch, then sample and evaluate one token at a time, handing each token and its text to a
// callback. Tokens go into the model's KV cache at model.n_past(), so a caller may keep a
// conversation in the cache and pass only the new tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "generate/sampling.h"
#include "model/forward.h"
#include "tokenizer/tokenizer.h"

namespace edgeq {

enum class StopReason : int {
    None = 0,      // not finished (max_tokens == 0)
    Eos = 1,       // an end-of-generation token (Tokenizer::stop_ids; it is not handed over)
    Length = 2,    // max_tokens generated
    Context = 3,   // the context is full
    Callback = 4,  // the callback asked to stop
};

struct GenerationStats {
    int prompt_tokens = 0;
    double prompt_seconds = 0.0;
    int generated_tokens = 0;       // tokens handed to the callback (not the end token)
    double generation_seconds = 0.0;  // from after the prompt to the end
    StopReason stop_reason = StopReason::None;
};

// Called once per generated token with its text: the bytes that complete UTF-8 characters so far
// (a character split across tokens comes with the token that finishes it, so `piece` may be
// empty; invalid bytes come as U+FFFD). At the end, text still held back (an unfinished
// character, as U+FFFD) comes with token -1. Return false to stop.
using TokenCallback = std::function<bool(int32_t token, const std::string& piece)>;

// Throws std::invalid_argument before evaluating anything for an empty prompt, a prompt that
// does not fit in the context, or max_tokens < -1 (-1: until an end token or a full context).
GenerationStats generate(Model& model, const Tokenizer& tok, const int32_t* prompt, int n_prompt, Sampler& sampler,
                         int max_tokens, const TokenCallback& on_token);

}  // namespace edgeq
