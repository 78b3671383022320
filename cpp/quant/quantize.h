// Offline weight quantizers: float rows -> GGUF blocks, for `edgeq quantize`.
//
// These write the bytes ggml's quantize_row_<type>_ref writes (llama-quantize's path when no
// importance matrix is given), so a model quantized by edgeq and by llama.cpp from the same
// float source is the same file. Unlike the kernels (kernels.h), quantizers run once per model,
// off the inference path: they are plain scalar C++, identical on every ISA (this directory is
// compiled with -ffp-contract=off so no compiler fuses a multiply-add that ggml does not).
//
// Types with a quantizer here: Q4_K (ggml's and two searched fits), Q6_K; quantize_rows also runs
// the reference kernel table's weight quantizers (kernels.h quantize_row: MXFP4, NVFP4). The gguf
// package quantizes the simpler types in numpy; python/edgeq/quantize.py picks per type.
#pragma once
#include <cstddef>
#include <cstdint>

namespace edgeq {

// x (n) float -> n / block_size(type) blocks at y. n must be a multiple of the type's block size
// (rows are independent runs of blocks, so one call may cover several rows).
using WeightQuantizerFn = void (*)(const float* x, void* y, int64_t n);

// The quantizer of a GGUF type in this directory, or nullptr. `search` picks a fit for types
// that have more than one: "rtn" (ggml's reference bytes, every type), and for Q4_K "mse" /
// "wmse" (q4k_search.cpp: the 6-bit sub-block scales and the fp16 super-block scales refit
// jointly, plain or ggml-weighted squared error). nullptr for an unknown (type, search).
WeightQuantizerFn weight_quantizer(uint32_t type, const char* search = "rtn");
// Whether quantize_rows can write the type with this search (here or through the reference
// kernel table, whose quantizers are round-to-nearest only).
bool has_weight_quantizer(uint32_t type, const char* search = "rtn");

// src (n_rows, n_per_row) row-major float -> dst (n_rows rows of GGUF blocks, back to back).
// Rows are split over n_threads threads (the caller's included; <= 0: hardware concurrency);
// the bytes do not depend on n_threads. Throws std::invalid_argument for an unknown type or a
// row length that is not a multiple of the block size.
void quantize_rows(uint32_t type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   int n_threads, const char* search = "rtn");

namespace quant {
void quantize_row_q4_K(const float* x, void* y, int64_t n);  // quant/kquants.cpp
void quantize_row_q6_K(const float* x, void* y, int64_t n);
void quantize_row_q4_K_mse(const float* x, void* y, int64_t n);   // quant/q4k_search.cpp
void quantize_row_q4_K_wmse(const float* x, void* y, int64_t n);
}  // namespace quant

}  // namespace edgeq
