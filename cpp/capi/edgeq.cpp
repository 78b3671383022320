// The C API (cpp/include/edgeq/edgeq.h) over the C++ core: every entry point catches every
// exception and turns it into a status code plus a per-thread message.
#include "edgeq/edgeq.h"

#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sched.h>

#include "generate/generate.h"
#include "gguf/gguf.h"
#include "gguf/model_config.h"
#include "model/forward.h"
#include "tokenizer/tokenizer.h"

struct edgeq_model {
    std::unique_ptr<edgeq::GgufFile> file;  // the mapping the weights point into: freed last
    std::unique_ptr<edgeq::Tokenizer> tokenizer;
    std::unique_ptr<edgeq::Model> model;
};

namespace {

thread_local std::string g_last_error;

edgeq_status fail(edgeq_status status, const std::string& message) {
    g_last_error = message;
    return status;
}

// Runs fn, mapping exceptions to status codes (fn returns a status itself on success paths).
template <class F>
edgeq_status guarded(const char* where, F&& fn) {
    try {
        return fn();
    } catch (const edgeq::GgufError& e) {
        const edgeq_status s = e.kind == edgeq::GgufError::Io            ? EDGEQ_ERR_IO
                               : e.kind == edgeq::GgufError::Unsupported ? EDGEQ_ERR_UNSUPPORTED
                                                                         : EDGEQ_ERR_FORMAT;
        return fail(s, e.what());
    } catch (const std::bad_alloc&) {
        return fail(EDGEQ_ERR_OUT_OF_MEMORY, std::string(where) + ": out of memory");
    } catch (const std::invalid_argument& e) {
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, std::string(where) + ": " + e.what());
    } catch (const std::out_of_range& e) {
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, std::string(where) + ": " + e.what());
    } catch (const std::exception& e) {
        return fail(EDGEQ_ERR_INTERNAL, std::string(where) + ": " + e.what());
    } catch (...) {
        return fail(EDGEQ_ERR_INTERNAL, std::string(where) + ": unknown error");
    }
}

// Physical cores among the CPUs this process may run on (hyper-threads share a core's execution
// units, so a second thread per core does not speed up the matmuls); python/edgeq/model.py
// physical_cores does the same.
int physical_cores() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
    std::set<std::pair<std::string, std::string>> cores;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::ifstream core_f(base + "core_id"), pkg_f(base + "physical_package_id");
        std::string core, pkg;
        if (core_f >> core && pkg_f >> pkg) cores.insert({pkg, core});
        else cores.insert({"cpu", std::to_string(cpu)});
    }
    return cores.empty() ? 1 : (int)cores.size();
}

// A model error that names a tensor type edgeq has no kernel for is "unsupported"; the other
// load_weights errors (missing tensors, wrong shapes or sizes) are a malformed file.
bool is_unsupported_type(const std::string& msg) {
    for (const char* s : {"has no matmul kernel", "unknown tensor type", "no activation quantizer",
                          "cannot be converted", "cannot be dequantized"})
        if (msg.find(s) != std::string::npos) return true;
    return false;
}

}  // namespace

extern "C" {

const char* edgeq_last_error(void) { return g_last_error.c_str(); }

const char* edgeq_status_name(edgeq_status status) {
    switch (status) {
        case EDGEQ_OK: return "EDGEQ_OK";
        case EDGEQ_ERR_INVALID_ARGUMENT: return "EDGEQ_ERR_INVALID_ARGUMENT";
        case EDGEQ_ERR_IO: return "EDGEQ_ERR_IO";
        case EDGEQ_ERR_FORMAT: return "EDGEQ_ERR_FORMAT";
        case EDGEQ_ERR_UNSUPPORTED: return "EDGEQ_ERR_UNSUPPORTED";
        case EDGEQ_ERR_BUFFER_TOO_SMALL: return "EDGEQ_ERR_BUFFER_TOO_SMALL";
        case EDGEQ_ERR_CONTEXT_FULL: return "EDGEQ_ERR_CONTEXT_FULL";
        case EDGEQ_ERR_OUT_OF_MEMORY: return "EDGEQ_ERR_OUT_OF_MEMORY";
        case EDGEQ_ERR_INTERNAL: return "EDGEQ_ERR_INTERNAL";
    }
    return "EDGEQ_ERR_UNKNOWN";
}

const char* edgeq_version(void) { return "0.1.0"; }

edgeq_model_params edgeq_model_default_params(void) {
    edgeq_model_params p;
    p.n_ctx = 0;
    p.n_threads = 0;
    p.isa = nullptr;
    return p;
}

edgeq_status edgeq_model_load(const char* path, const edgeq_model_params* params, edgeq_model** out) {
    if (out) *out = nullptr;
    if (!path || !out) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_model_load: path and out must not be NULL");
    const edgeq_model_params p = params ? *params : edgeq_model_default_params();
    if (p.n_ctx < 0) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_model_load: n_ctx must be >= 0");
    if (p.n_threads < 0) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_model_load: n_threads must be >= 0");
    return guarded("edgeq_model_load", [&]() -> edgeq_status {
        auto m = std::make_unique<edgeq_model>();
        m->file = std::make_unique<edgeq::GgufFile>(path);
        const edgeq::GgufFile& g = *m->file;
        edgeq::ModelConfig cfg = edgeq::read_model_config(g);
        const int64_t ctx_len = edgeq::read_context_length(g);
        const int n_ctx = p.n_ctx > 0 ? p.n_ctx : (int)std::min<int64_t>(ctx_len, edgeq::kDefaultMaxCtx);
        const int n_threads = p.n_threads > 0 ? p.n_threads : physical_cores();
        m->tokenizer = std::make_unique<edgeq::Tokenizer>(g);
        const edgeq::KernelTable& kt = (p.isa && *p.isa) ? edgeq::kernels_for(p.isa) : edgeq::kernels();
        try {
            m->model = std::make_unique<edgeq::Model>(std::move(cfg), g.tensor_map(), n_ctx, n_threads, kt);
        } catch (const std::invalid_argument& e) {
            return fail(is_unsupported_type(e.what()) ? EDGEQ_ERR_UNSUPPORTED : EDGEQ_ERR_FORMAT,
                        g.path() + ": " + e.what());
        }
        *out = m.release();
        return EDGEQ_OK;
    });
}

void edgeq_model_free(edgeq_model* model) { delete model; }

int32_t edgeq_model_n_vocab(const edgeq_model* m) { return m ? m->tokenizer->n_vocab() : 0; }
int32_t edgeq_model_n_ctx(const edgeq_model* m) { return m ? m->model->n_ctx() : 0; }
int32_t edgeq_model_n_past(const edgeq_model* m) { return m ? m->model->n_past() : 0; }
int32_t edgeq_model_n_threads(const edgeq_model* m) { return m ? m->model->n_threads() : 0; }
const char* edgeq_model_arch(const edgeq_model* m) { return m ? m->model->config().arch.c_str() : ""; }
const char* edgeq_model_isa(const edgeq_model* m) { return m ? m->model->kernel_table().name : ""; }

edgeq_status edgeq_model_reset(edgeq_model* m) {
    if (!m) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_model_reset: model is NULL");
    m->model->reset();
    return EDGEQ_OK;
}

int32_t edgeq_token_bos(const edgeq_model* m) { return m ? m->tokenizer->bos_id() : EDGEQ_TOKEN_NONE; }
int32_t edgeq_token_eos(const edgeq_model* m) { return m ? m->tokenizer->eos_id() : EDGEQ_TOKEN_NONE; }
int32_t edgeq_token_eot(const edgeq_model* m) { return m ? m->tokenizer->eot_id() : EDGEQ_TOKEN_NONE; }
int edgeq_token_is_stop(const edgeq_model* m, int32_t token) { return m && m->tokenizer->is_stop(token) ? 1 : 0; }

edgeq_status edgeq_tokenize(edgeq_model* m, const char* text, size_t text_len, int add_special, int parse_special,
                            int32_t* tokens, size_t capacity, size_t* n_tokens) {
    if (n_tokens) *n_tokens = 0;
    if (!m || !n_tokens || (!text && text_len) || (!tokens && capacity))
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_tokenize: model, n_tokens, text and tokens must not be NULL");
    return guarded("edgeq_tokenize", [&]() -> edgeq_status {
        const std::vector<int32_t> ids =
            m->tokenizer->encode(std::string(text ? text : "", text_len), add_special != 0, parse_special != 0);
        *n_tokens = ids.size();
        if (ids.size() > capacity)
            return fail(EDGEQ_ERR_BUFFER_TOO_SMALL, "edgeq_tokenize: " + std::to_string(ids.size()) +
                                                        " tokens do not fit in " + std::to_string(capacity));
        if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
        return EDGEQ_OK;
    });
}

edgeq_status edgeq_detokenize(edgeq_model* m, const int32_t* tokens, size_t n_tokens, int skip_special, char* buf,
                              size_t capacity, size_t* n_bytes) {
    if (n_bytes) *n_bytes = 0;
    if (!m || !n_bytes || (!tokens && n_tokens) || (!buf && capacity))
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_detokenize: model, n_bytes, tokens and buf must not be NULL");
    return guarded("edgeq_detokenize", [&]() -> edgeq_status {
        const std::string text = m->tokenizer->decode(tokens, n_tokens, skip_special != 0);
        *n_bytes = text.size();
        if (text.size() > capacity)
            return fail(EDGEQ_ERR_BUFFER_TOO_SMALL, "edgeq_detokenize: " + std::to_string(text.size()) +
                                                        " bytes do not fit in " + std::to_string(capacity));
        std::memcpy(buf, text.data(), text.size());
        if (text.size() < capacity) buf[text.size()] = '\0';
        return EDGEQ_OK;
    });
}

const char* edgeq_token_bytes(const edgeq_model* m, int32_t token, size_t* len) {
    if (len) *len = 0;
    if (!m || token < 0 || token >= m->tokenizer->n_vocab()) return nullptr;
    const std::string& b = m->tokenizer->token_to_bytes(token);
    if (len) *len = b.size();
    return b.data();
}

edgeq_sampling_params edgeq_sampling_default_params(void) {
    const edgeq::SamplingParams d;  // the defaults live in the C++ struct (same fields, same order)
    return {d.temp, d.top_k, d.top_p, d.min_p, d.repeat_penalty, d.repeat_last_n, d.frequency_penalty,
            d.presence_penalty, d.seed};
}

edgeq_status edgeq_generate(edgeq_model* m, const int32_t* prompt, size_t n_prompt, const edgeq_sampling_params* params,
                            int32_t max_tokens, edgeq_token_callback callback, void* user_data,
                            edgeq_generation_stats* stats) {
    if (stats) *stats = edgeq_generation_stats{0, 0, 0.0, 0.0, EDGEQ_STOP_NONE};
    if (!m || (!prompt && n_prompt))
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_generate: model and prompt must not be NULL");
    if (n_prompt == 0) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_generate: the prompt is empty");
    if (max_tokens < -1)
        return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_generate: max_tokens must be -1 or >= 0");
    const int n_vocab = m->model->config().n_vocab;
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= n_vocab)
            return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_generate: prompt token " + std::to_string(prompt[i]) +
                                                        " is out of range [0, " + std::to_string(n_vocab) + ")");
    const edgeq_sampling_params sp = params ? *params : edgeq_sampling_default_params();
    const edgeq::SamplingParams p{sp.temperature,    sp.top_k,         sp.top_p,
                                  sp.min_p,          sp.repeat_penalty, sp.repeat_last_n,
                                  sp.frequency_penalty, sp.presence_penalty, sp.seed};
    const std::string bad = p.check();
    if (!bad.empty()) return fail(EDGEQ_ERR_INVALID_ARGUMENT, "edgeq_generate: " + bad);
    const int n_ctx = m->model->n_ctx();
    if ((size_t)(n_ctx - m->model->n_past()) < n_prompt)
        return fail(EDGEQ_ERR_CONTEXT_FULL, "edgeq_generate: the prompt is " + std::to_string(n_prompt) +
                                                " tokens but only " + std::to_string(n_ctx - m->model->n_past()) +
                                                " fit in the context (" + std::to_string(n_ctx) + " tokens, " +
                                                std::to_string(m->model->n_past()) + " in use)");
    return guarded("edgeq_generate", [&]() -> edgeq_status {
        edgeq::Sampler sampler(p, n_ctx);
        const edgeq::GenerationStats st = edgeq::generate(
            *m->model, *m->tokenizer, prompt, (int)n_prompt, sampler, max_tokens,
            [&](int32_t token, const std::string& text) {
                return callback == nullptr || callback(token, text.c_str(), text.size(), user_data) == 0;
            });
        if (stats) {
            stats->prompt_tokens = st.prompt_tokens;
            stats->generated_tokens = st.generated_tokens;
            stats->prompt_seconds = st.prompt_seconds;
            stats->generation_seconds = st.generation_seconds;
            stats->stop_reason = static_cast<edgeq_stop_reason>(st.stop_reason);
        }
        return EDGEQ_OK;
    });
}

}  // extern "C"
