/* The C API from C (compiled as C, linked to the shared libedgeq): error paths always; with
 * EDGEQ_SMOLLM2 naming SmolLM2-135M-Instruct.Q4_1.gguf also loading, tokenize / detokenize
 * round trips, buffer sizing, greedy generation (deterministic, stops where asked), the callback
 * stopping, a full context, and reset. Prints "test_capi: N passed, M failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeq/edgeq.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                        \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "FAIL %s (line %d): %s\n", what, __LINE__, #cond); \
        }                                                                        \
    } while (0)

static int contains(const char* s, const char* frag) { return s && strstr(s, frag) != NULL; }

static void write_bytes(const char* path, const void* data, size_t n) {
    FILE* f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_errors(void) {
    edgeq_model* m = (edgeq_model*)0x1;
    CHECK(edgeq_model_load("/nonexistent/model.gguf", NULL, &m) == EDGEQ_ERR_IO, "missing file is an I/O error");
    CHECK(m == NULL, "no model on failure");
    CHECK(contains(edgeq_last_error(), "/nonexistent/model.gguf") && contains(edgeq_last_error(), "cannot open"),
          "the message names the file");
    CHECK(edgeq_model_load(NULL, NULL, &m) == EDGEQ_ERR_INVALID_ARGUMENT, "NULL path");
    CHECK(edgeq_model_load("x", NULL, NULL) == EDGEQ_ERR_INVALID_ARGUMENT, "NULL out");

    char path[256];
    const char* tmp = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/edgeq_test_capi_%ld.gguf", tmp && *tmp ? tmp : "/tmp", (long)rand());
    static const unsigned char truncated[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0};
    write_bytes(path, truncated, sizeof(truncated));
    CHECK(edgeq_model_load(path, NULL, &m) == EDGEQ_ERR_FORMAT, "truncated file is a format error");
    CHECK(contains(edgeq_last_error(), "truncated"), "the message says truncated");
    static const unsigned char v1[] = {'G', 'G', 'U', 'F', 1, 0, 0, 0};
    write_bytes(path, v1, sizeof(v1));
    CHECK(edgeq_model_load(path, NULL, &m) == EDGEQ_ERR_UNSUPPORTED, "GGUF v1 is unsupported");
    remove(path);

    edgeq_model_params p = edgeq_model_default_params();
    p.n_ctx = -1;
    CHECK(edgeq_model_load("x", &p, &m) == EDGEQ_ERR_INVALID_ARGUMENT, "negative n_ctx");

    size_t n = 7;
    CHECK(edgeq_tokenize(NULL, "a", 1, 1, 0, NULL, 0, &n) == EDGEQ_ERR_INVALID_ARGUMENT && n == 0, "tokenize NULL model");
    CHECK(edgeq_generate(NULL, NULL, 0, NULL, 1, NULL, NULL, NULL) == EDGEQ_ERR_INVALID_ARGUMENT, "generate NULL model");
    edgeq_model_free(NULL); /* ignored */
    CHECK(strcmp(edgeq_status_name(EDGEQ_ERR_CONTEXT_FULL), "EDGEQ_ERR_CONTEXT_FULL") == 0, "status names");
}

typedef struct {
    int32_t ids[256];
    int n;
    int stop_after; /* stop once this many tokens arrived (0: never) */
    char text[4096];
    size_t text_len;
} collect;

static int on_token(int32_t token, const char* text, size_t len, void* user) {
    collect* c = (collect*)user;
    if (c->text_len + len < sizeof(c->text)) {
        memcpy(c->text + c->text_len, text, len);
        c->text_len += len;
        c->text[c->text_len] = '\0';
    }
    if (token == EDGEQ_TOKEN_NONE) return 0;
    if (c->n < 256) c->ids[c->n++] = token;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_model(const char* path) {
    edgeq_model_params mp = edgeq_model_default_params();
    mp.n_ctx = 64;
    edgeq_model* m = NULL;
    edgeq_status st = edgeq_model_load(path, &mp, &m);
    CHECK(st == EDGEQ_OK, "load SmolLM2");
    if (st != EDGEQ_OK) {
        fprintf(stderr, "%s\n", edgeq_last_error());
        return;
    }
    CHECK(edgeq_model_n_ctx(m) == 64 && edgeq_model_n_vocab(m) == 49152, "n_ctx and n_vocab");
    CHECK(strcmp(edgeq_model_arch(m), "llama") == 0, "arch");
    CHECK(edgeq_token_is_stop(m, edgeq_token_eos(m)), "EOS stops");

    /* Tokenize: ask for the count, then a too-small buffer, then the right one. */
    const char* text = "Hello, world! 12345 \xE4\xBD\xA0\xE5\xA5\xBD";
    size_t need = 0, n = 0;
    CHECK(edgeq_tokenize(m, text, strlen(text), 0, 0, NULL, 0, &need) == EDGEQ_ERR_BUFFER_TOO_SMALL && need > 5,
          "tokenize reports the count");
    int32_t ids[64];
    CHECK(edgeq_tokenize(m, text, strlen(text), 0, 0, ids, 2, &n) == EDGEQ_ERR_BUFFER_TOO_SMALL && n == need,
          "too small a buffer");
    CHECK(edgeq_tokenize(m, text, strlen(text), 0, 0, ids, 64, &n) == EDGEQ_OK && n == need, "tokenize");
    char buf[256];
    size_t nb = 0;
    CHECK(edgeq_detokenize(m, ids, n, 0, buf, sizeof(buf), &nb) == EDGEQ_OK && nb == strlen(text) &&
              memcmp(buf, text, nb) == 0 && buf[nb] == '\0',
          "detokenize round trip");
    CHECK(edgeq_detokenize(m, ids, n, 0, buf, 3, &nb) == EDGEQ_ERR_BUFFER_TOO_SMALL && nb == strlen(text),
          "detokenize buffer too small");
    int32_t bad = 1 << 30;
    CHECK(edgeq_detokenize(m, &bad, 1, 0, buf, sizeof(buf), &nb) == EDGEQ_ERR_INVALID_ARGUMENT, "bad token id");
    size_t len = 0;
    const char* piece = edgeq_token_bytes(m, ids[0], &len);
    CHECK(piece && len == 5 && memcmp(piece, "Hello", 5) == 0, "token bytes");
    CHECK(edgeq_token_bytes(m, -1, &len) == NULL && len == 0, "token bytes out of range");
    /* <|im_start|> is one token only with parse_special. */
    size_t n_special = 0, n_plain = 0;
    edgeq_tokenize(m, "<|im_start|>", 12, 0, 1, ids, 64, &n_special);
    edgeq_tokenize(m, "<|im_start|>", 12, 0, 0, ids, 64, &n_plain);
    CHECK(n_special == 1 && n_plain > 1, "parse_special");

    /* Greedy generation twice from a fresh cache gives the same tokens. */
    int32_t prompt[32];
    size_t n_prompt = 0;
    edgeq_tokenize(m, "The capital of France is", 24, 1, 0, prompt, 32, &n_prompt);
    edgeq_sampling_params sp = edgeq_sampling_default_params();
    sp.temperature = 0.0f;
    collect a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    edgeq_generation_stats stats;
    CHECK(edgeq_generate(m, prompt, n_prompt, &sp, 8, on_token, &a, &stats) == EDGEQ_OK, "generate");
    CHECK(stats.prompt_tokens == (int)n_prompt && stats.generated_tokens == 8 && a.n == 8 &&
              stats.stop_reason == EDGEQ_STOP_LENGTH,
          "8 tokens, stopped by length");
    CHECK(edgeq_model_n_past(m) == (int)n_prompt + 7, "the cache holds the prompt and 7 evaluated tokens");
    size_t n_text = 0;
    char gen_text[4096];
    edgeq_detokenize(m, a.ids, (size_t)a.n, 0, gen_text, sizeof(gen_text), &n_text);
    CHECK(n_text == a.text_len && memcmp(gen_text, a.text, n_text) == 0, "streamed text == detokenized tokens");
    edgeq_model_reset(m);
    CHECK(edgeq_model_n_past(m) == 0, "reset");
    b.stop_after = 3;
    CHECK(edgeq_generate(m, prompt, n_prompt, &sp, 8, on_token, &b, &stats) == EDGEQ_OK, "generate again");
    CHECK(b.n == 3 && stats.stop_reason == EDGEQ_STOP_CALLBACK && memcmp(a.ids, b.ids, 3 * sizeof(int32_t)) == 0,
          "the callback stops it; greedy repeats itself");

    /* The context (64) fills up: a long prompt is refused, generation stops at the end. */
    int32_t many[80];
    for (int i = 0; i < 80; i++) many[i] = prompt[i % n_prompt];
    edgeq_model_reset(m);
    CHECK(edgeq_generate(m, many, 80, &sp, 4, NULL, NULL, NULL) == EDGEQ_ERR_CONTEXT_FULL, "prompt longer than the context");
    CHECK(edgeq_model_n_past(m) == 0, "nothing evaluated");
    CHECK(edgeq_generate(m, many, 60, &sp, -1, NULL, NULL, &stats) == EDGEQ_OK &&
              (stats.stop_reason == EDGEQ_STOP_CONTEXT || stats.stop_reason == EDGEQ_STOP_EOS) &&
              edgeq_model_n_past(m) <= 64,
          "generation stops at a full context");
    sp.top_p = 2.0f;
    CHECK(edgeq_generate(m, prompt, 1, &sp, 1, NULL, NULL, NULL) == EDGEQ_ERR_INVALID_ARGUMENT &&
              contains(edgeq_last_error(), "top_p"),
          "bad sampling parameter");
    edgeq_model_free(m);
}

int main(void) {
    test_errors();
    const char* model = getenv("EDGEQ_SMOLLM2");
    if (model && *model) test_model(model);
    else printf("SKIP model tests: EDGEQ_SMOLLM2 is not set\n");
    printf("test_capi: %d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}
