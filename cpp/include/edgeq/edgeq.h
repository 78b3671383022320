/* edgeq C API: load a GGUF model, tokenize / detokenize, generate text with a token callback.
 *
 *     edgeq_model* m = NULL;
 *     if (edgeq_model_load("model.gguf", NULL, &m) != EDGEQ_OK) {
 *         fprintf(stderr, "%s\n", edgeq_last_error());
 *         return 1;
 *     }
 *     int32_t ids[512];
 *     size_t n = 0;
 *     edgeq_tokenize(m, "Hello", 5, 1, 0, ids, 512, &n);
 *     edgeq_sampling_params sp = edgeq_sampling_default_params();
 *     sp.temperature = 0.0f;                        // greedy
 *     edgeq_generate(m, ids, n, &sp, 64, on_token, user_data, NULL);
 *     edgeq_model_free(m);
 *
 * Plain C types only: opaque handles, int32_t token ids, UTF-8 text as (const char*, size_t),
 * callbacks with a void* user pointer. Every function that can fail returns an edgeq_status;
 * on failure edgeq_last_error() gives a one-line message (per thread, valid until the next
 * failing call on that thread). Nothing here aborts or throws: a malformed model file, a bad
 * argument or an exhausted context is an error code.
 *
 * Threads: one edgeq_model may be used by one thread at a time (the KV cache is its state);
 * separate models are independent. The library is built from edgeq's C++ core (libedgeq).
 */
#ifndef EDGEQ_H
#define EDGEQ_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(EDGEQ_BUILDING_LIBRARY)
#    define EDGEQ_API __declspec(dllexport)
#  else
#    define EDGEQ_API __declspec(dllimport)
#  endif
#else
#  define EDGEQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEQ_API_VERSION 1

typedef enum edgeq_status {
    EDGEQ_OK = 0,
    EDGEQ_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, a bad parameter value, a token id out of range */
    EDGEQ_ERR_IO = 2,               /* the file cannot be opened or mapped */
    EDGEQ_ERR_FORMAT = 3,           /* a malformed or truncated GGUF file */
    EDGEQ_ERR_UNSUPPORTED = 4,      /* a valid file edgeq cannot run (architecture, tokenizer, type) */
    EDGEQ_ERR_BUFFER_TOO_SMALL = 5, /* the output did not fit: the needed size was stored */
    EDGEQ_ERR_CONTEXT_FULL = 6,     /* the prompt does not fit in the remaining context */
    EDGEQ_ERR_OUT_OF_MEMORY = 7,
    EDGEQ_ERR_INTERNAL = 8
} edgeq_status;

/* The message of the last failure on this thread ("" if none). */
EDGEQ_API const char* edgeq_last_error(void);
/* A short name for a status ("EDGEQ_ERR_FORMAT"). */
EDGEQ_API const char* edgeq_status_name(edgeq_status status);
/* The library version ("0.1.0"). */
EDGEQ_API const char* edgeq_version(void);

/* ---- models ----------------------------------------------------------------------------- */

typedef struct edgeq_model edgeq_model; /* opaque */

typedef struct edgeq_model_params {
    int32_t n_ctx;     /* context window in tokens; 0: min(the model's context length, 4096) */
    int32_t n_threads; /* 0: the number of physical cores this process may run on */
    const char* isa;   /* kernel table: NULL or "" = the best the CPU runs; "ref", "avx2", "avx512" */
} edgeq_model_params;

EDGEQ_API edgeq_model_params edgeq_model_default_params(void);

/* Opens and validates a GGUF model (weights memory-mapped, never copied) and its tokenizer.
 * params may be NULL (defaults). On success *out is a new model; on failure *out is NULL. */
EDGEQ_API edgeq_status edgeq_model_load(const char* path, const edgeq_model_params* params, edgeq_model** out);
/* Frees the model, its KV cache and threads, and unmaps the file. NULL is ignored. */
EDGEQ_API void edgeq_model_free(edgeq_model* model);

EDGEQ_API int32_t edgeq_model_n_vocab(const edgeq_model* model);  /* tokenizer vocabulary size */
EDGEQ_API int32_t edgeq_model_n_ctx(const edgeq_model* model);
EDGEQ_API int32_t edgeq_model_n_past(const edgeq_model* model);   /* tokens in the KV cache */
EDGEQ_API int32_t edgeq_model_n_threads(const edgeq_model* model);
EDGEQ_API const char* edgeq_model_arch(const edgeq_model* model); /* "llama", "bitnet-b1.58" ... */
EDGEQ_API const char* edgeq_model_isa(const edgeq_model* model);  /* kernel table in use */
/* Empties the KV cache (a new conversation). */
EDGEQ_API edgeq_status edgeq_model_reset(edgeq_model* model);

/* ---- tokens ----------------------------------------------------------------------------- */

#define EDGEQ_TOKEN_NONE (-1)

EDGEQ_API int32_t edgeq_token_bos(const edgeq_model* model); /* EDGEQ_TOKEN_NONE if none */
EDGEQ_API int32_t edgeq_token_eos(const edgeq_model* model);
EDGEQ_API int32_t edgeq_token_eot(const edgeq_model* model);
/* Non-zero if the token ends generation (EOS, EOT and the model's other end markers). */
EDGEQ_API int edgeq_token_is_stop(const edgeq_model* model, int32_t token);

/* Token ids of UTF-8 text[0..text_len), as llama.cpp's llama_tokenize: add_special adds BOS / EOS
 * where the vocabulary asks for them; parse_special turns the text of control tokens
 * ("<|im_start|>") into those tokens. Writes at most capacity ids and stores the count in
 * *n_tokens; if they do not fit, returns EDGEQ_ERR_BUFFER_TOO_SMALL with the needed count in
 * *n_tokens (tokens may be NULL when capacity is 0, to ask for the count). */
EDGEQ_API edgeq_status edgeq_tokenize(edgeq_model* model, const char* text, size_t text_len, int add_special,
                                      int parse_special, int32_t* tokens, size_t capacity, size_t* n_tokens);

/* The bytes of tokens[0..n): skip_special leaves out control tokens (BOS, EOS, <|im_end|> ...);
 * for SentencePiece vocabularies the space the tokenizer put before the text is removed again,
 * so detokenize(tokenize(t)) == t. The bytes may end inside a UTF-8 character when the tokens
 * do. Writes at most capacity bytes plus a terminating NUL if there is room; the byte count
 * (without the NUL) goes to *n_bytes, or the needed count with EDGEQ_ERR_BUFFER_TOO_SMALL. */
EDGEQ_API edgeq_status edgeq_detokenize(edgeq_model* model, const int32_t* tokens, size_t n_tokens, int skip_special,
                                        char* buf, size_t capacity, size_t* n_bytes);

/* The raw bytes one token stands for (a piece of a UTF-8 character for byte tokens), not
 * NUL-terminated, valid while the model lives; *len gets the length. NULL if the id is out of
 * range. */
EDGEQ_API const char* edgeq_token_bytes(const edgeq_model* model, int32_t token, size_t* len);

/* ---- generation ------------------------------------------------------------------------- */

typedef struct edgeq_sampling_params {
    float temperature;       /* <= 0: greedy (argmax) */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* 1: off */
    float min_p;             /* 0: off */
    float repeat_penalty;    /* 1: off */
    int32_t repeat_last_n;   /* tokens of history penalized; 0: off, -1: the context size */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    int64_t seed;            /* -1: random */
} edgeq_sampling_params;

/* llama.cpp's defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties. */
EDGEQ_API edgeq_sampling_params edgeq_sampling_default_params(void);

/* Called once per generated token with the text it completes: UTF-8 that never ends inside a
 * character (a character split across tokens comes with the token that completes it, so
 * text_len may be 0; invalid bytes arrive as U+FFFD). text is NUL-terminated and valid during
 * the call only. After the last token, text still held back (an unfinished character, as
 * U+FFFD) comes with token EDGEQ_TOKEN_NONE. Return 0 to go on, non-zero to stop. */
typedef int (*edgeq_token_callback)(int32_t token, const char* text, size_t text_len, void* user_data);

typedef enum edgeq_stop_reason {
    EDGEQ_STOP_NONE = 0,     /* nothing generated (max_tokens == 0) */
    EDGEQ_STOP_EOS = 1,      /* an end-of-generation token (not passed to the callback) */
    EDGEQ_STOP_LENGTH = 2,   /* max_tokens reached */
    EDGEQ_STOP_CONTEXT = 3,  /* the context window is full */
    EDGEQ_STOP_CALLBACK = 4  /* the callback returned non-zero */
} edgeq_stop_reason;

typedef struct edgeq_generation_stats {
    int32_t prompt_tokens;
    int32_t generated_tokens; /* tokens passed to the callback */
    double prompt_seconds;
    double generation_seconds; /* from after the prompt to the end: tokens/s = generated / this */
    edgeq_stop_reason stop_reason;
} edgeq_generation_stats;

/* Evaluates prompt[0..n_prompt) in one batch after the tokens already in the KV cache, then
 * samples one token at a time until an end-of-generation token, max_tokens tokens (-1: no limit),
 * a full context, or the callback asks to stop. The generated tokens stay in the cache (continue
 * a conversation by passing only the new tokens; edgeq_model_reset starts over). params may be
 * NULL (defaults); callback may be NULL; stats may be NULL. A prompt that does not fit in the
 * remaining context is EDGEQ_ERR_CONTEXT_FULL, with nothing evaluated. */
EDGEQ_API edgeq_status edgeq_generate(edgeq_model* model, const int32_t* prompt, size_t n_prompt,
                                      const edgeq_sampling_params* params, int32_t max_tokens,
                                      edgeq_token_callback callback, void* user_data, edgeq_generation_stats* stats);

#ifdef __cplusplus
}
#endif

#endif /* EDGEQ_H */
