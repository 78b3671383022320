// The table of C++ weight quantizers and the threaded row driver (see quantize.h).
#include "quant/quantize.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/kernels.h"

namespace edgeq {

WeightQuantizerFn weight_quantizer(uint32_t type, const char* search) {
    const std::string s = search ? search : "";
    if (s == "rtn") {
        switch (type) {
            case GGML_Q4_K: return quant::quantize_row_q4_K;
            case GGML_Q6_K: return quant::quantize_row_q6_K;
            default: return nullptr;
        }
    }
    if (type == GGML_Q4_K && s == "mse") return quant::quantize_row_q4_K_mse;
    if (type == GGML_Q4_K && s == "wmse") return quant::quantize_row_q4_K_wmse;
    return nullptr;
}

namespace {

// The reference kernel table's quantizer of the type (MXFP4, NVFP4), which is plain
// round-to-nearest: only for search "rtn". nullptr if none.
QuantizeRowFn table_quantizer(uint32_t type, const char* search) {
    const bool rtn = !search || std::string(search) == "rtn";
    return rtn && type < kNumGgmlTypes ? kernels_for("ref").quantize_row[type] : nullptr;
}

}  // namespace

bool has_weight_quantizer(uint32_t type, const char* search) {
    return weight_quantizer(type, search) || table_quantizer(type, search);
}

void quantize_rows(uint32_t type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row, int n_threads,
                   const char* search) {
    const WeightQuantizerFn fn = weight_quantizer(type, search);
    const QuantizeRowFn kernel_fn = fn ? nullptr : table_quantizer(type, search);
    if (!fn && !kernel_fn)
        throw std::invalid_argument(std::string("no C++ quantizer for type ") + ggml_type_name(type) + " with search '" +
                                    (search ? search : "") + "'");
    const int64_t block = ggml_block_size(type);
    if (n_per_row <= 0 || n_per_row % block != 0)
        throw std::invalid_argument(std::string(ggml_type_name(type)) + " rows must be a positive multiple of " +
                                    std::to_string(block) + " values, got " + std::to_string(n_per_row));
    if (n_rows <= 0) return;
    const size_t row_bytes = (size_t)(n_per_row / block) * ggml_type_size(type);
    if (n_threads <= 0) n_threads = (int)std::max(1u, std::thread::hardware_concurrency());
    // Contiguous row ranges, one per thread; every row is quantized on its own, so the split
    // never changes the bytes.
    const int64_t n_parts = std::min<int64_t>(n_threads, n_rows);
    auto part = [&](int64_t p) {
        const int64_t r0 = n_rows * p / n_parts, r1 = n_rows * (p + 1) / n_parts;
        if (fn) {
            fn(src + r0 * n_per_row, static_cast<uint8_t*>(dst) + r0 * row_bytes, (r1 - r0) * n_per_row);
            return;
        }
        for (int64_t r = r0; r < r1; r++)  // the kernel table's quantizers take one row at a time
            kernel_fn(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * row_bytes, (int)n_per_row);
    };
    std::vector<std::thread> workers;
    for (int64_t p = 1; p < n_parts; p++) workers.emplace_back(part, p);
    part(0);
    for (auto& w : workers) w.join();
}

}  // namespace edgeq
