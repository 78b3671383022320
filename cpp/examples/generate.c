/* A small C program on the edgeq C API: load a GGUF model, tokenize a prompt, stream the
 * generated text to stdout through the token callback, and print tokens/s to stderr.
 *
 *     edgeq_generate MODEL.gguf [-p PROMPT] [-n MAX_TOKENS] [-t THREADS] [-c CTX]
 *                    [--temp T] [--seed S] [--ids]
 *
 * Greedy by default (--temp 0). --ids also prints the prompt and generated token ids to stderr
 * ("prompt ids: ..." and "generated ids: ..."), for tests. Exit status: 0, or 1 with a one-line
 * error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeq/edgeq.h"

typedef struct {
    int32_t* ids; /* generated token ids */
    size_t n, cap;
    int failed;   /* out of memory while recording */
} token_log;

static int on_token(int32_t token, const char* text, size_t text_len, void* user_data) {
    token_log* log = (token_log*)user_data;
    fwrite(text, 1, text_len, stdout);
    fflush(stdout);
    if (token == EDGEQ_TOKEN_NONE) return 0; /* the held-back tail, not a token */
    if (log->n == log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 64;
        int32_t* ids = (int32_t*)realloc(log->ids, cap * sizeof(int32_t));
        if (!ids) {
            log->failed = 1;
            return 1; /* stop generating */
        }
        log->ids = ids;
        log->cap = cap;
    }
    log->ids[log->n++] = token;
    return 0;
}

static void print_ids(const char* what, const int32_t* ids, size_t n) {
    fprintf(stderr, "%s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

static int usage(const char* argv0) {
    fprintf(stderr,
            "usage: %s MODEL.gguf [-p PROMPT] [-n MAX_TOKENS] [-t THREADS] [-c CTX] [--temp T] [--seed S] [--ids]\n",
            argv0);
    return 1;
}

int main(int argc, char** argv) {
    const char* path = NULL;
    const char* prompt = "Once upon a time";
    int max_tokens = 64, print_token_ids = 0;
    edgeq_model_params mp = edgeq_model_default_params();
    edgeq_sampling_params sp = edgeq_sampling_default_params();
    sp.temperature = 0.0f;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const int has_value = i + 1 < argc;
        if (!strcmp(a, "-p") && has_value) prompt = argv[++i];
        else if (!strcmp(a, "-n") && has_value) max_tokens = atoi(argv[++i]);
        else if (!strcmp(a, "-t") && has_value) mp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "-c") && has_value) mp.n_ctx = atoi(argv[++i]);
        else if (!strcmp(a, "--temp") && has_value) sp.temperature = (float)atof(argv[++i]);
        else if (!strcmp(a, "--seed") && has_value) sp.seed = atoll(argv[++i]);
        else if (!strcmp(a, "--ids")) print_token_ids = 1;
        else if (a[0] != '-' && !path) path = a;
        else return usage(argv[0]);
    }
    if (!path) return usage(argv[0]);

    edgeq_model* model = NULL;
    if (edgeq_model_load(path, &mp, &model) != EDGEQ_OK) {
        fprintf(stderr, "error: %s\n", edgeq_last_error());
        return 1;
    }

    /* Ask for the token count first, then tokenize into a buffer of that size. */
    size_t n_prompt = 0;
    int32_t* ids = NULL;
    edgeq_status st = edgeq_tokenize(model, prompt, strlen(prompt), 1, 0, NULL, 0, &n_prompt);
    if (st == EDGEQ_ERR_BUFFER_TOO_SMALL || st == EDGEQ_OK) {
        ids = (int32_t*)malloc((n_prompt ? n_prompt : 1) * sizeof(int32_t));
        st = ids ? edgeq_tokenize(model, prompt, strlen(prompt), 1, 0, ids, n_prompt, &n_prompt)
                 : EDGEQ_ERR_OUT_OF_MEMORY;
    }
    if (st != EDGEQ_OK) {
        fprintf(stderr, "error: %s\n", st == EDGEQ_ERR_OUT_OF_MEMORY ? "out of memory" : edgeq_last_error());
        free(ids);
        edgeq_model_free(model);
        return 1;
    }

    token_log log = {NULL, 0, 0, 0};
    edgeq_generation_stats stats;
    st = edgeq_generate(model, ids, n_prompt, &sp, max_tokens, on_token, &log, &stats);
    printf("\n");
    fflush(stdout);
    int rc = 0;
    if (st != EDGEQ_OK || log.failed) {
        fprintf(stderr, "error: %s\n", log.failed ? "out of memory" : edgeq_last_error());
        rc = 1;
    } else {
        if (print_token_ids) {
            print_ids("prompt ids", ids, n_prompt);
            print_ids("generated ids", log.ids, log.n);
        }
        static const char* reasons[] = {"none", "eos", "length", "context", "callback"};
        fprintf(stderr, "%s | isa %s, %d threads | prompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | stop: %s\n",
                edgeq_model_arch(model), edgeq_model_isa(model), (int)edgeq_model_n_threads(model),
                (int)stats.prompt_tokens, stats.prompt_seconds > 0 ? stats.prompt_tokens / stats.prompt_seconds : 0.0,
                (int)stats.generated_tokens,
                stats.generation_seconds > 0 ? stats.generated_tokens / stats.generation_seconds : 0.0,
                reasons[stats.stop_reason]);
    }
    free(log.ids);
    free(ids);
    edgeq_model_free(model);
    return rc;
}
