// Sizes and names of GGUF tensor types and activation formats.
#include "kernels/kernels.h"

namespace edgeq {

namespace {
struct TypeInfo {
    const char* name;
    int block;      // values per block
    size_t bytes;   // bytes per block
};

TypeInfo type_info(uint32_t type) {
    switch (type) {
        case GGML_F32: return {"F32", 1, 4};
        case GGML_F16: return {"F16", 1, 2};
        case GGML_BF16: return {"BF16", 1, 2};
        case GGML_Q4_0: return {"Q4_0", QK4_0, sizeof(block_q4_0)};
        case GGML_Q4_1: return {"Q4_1", QK4_1, sizeof(block_q4_1)};
        case GGML_Q5_0: return {"Q5_0", QK5_0, sizeof(block_q5_0)};
        case GGML_Q5_1: return {"Q5_1", QK5_1, sizeof(block_q5_1)};
        case GGML_Q8_0: return {"Q8_0", QK8_0, sizeof(block_q8_0)};
        case GGML_Q8_1: return {"Q8_1", QK8_1, sizeof(block_q8_1)};
        case GGML_Q4_K: return {"Q4_K", QK_K, sizeof(block_q4_K)};
        case GGML_Q6_K: return {"Q6_K", QK_K, sizeof(block_q6_K)};
        case GGML_Q8_K: return {"Q8_K", QK_K, sizeof(block_q8_K)};
        case GGML_TQ1_0: return {"TQ1_0", QK_K, sizeof(block_tq1_0)};
        case GGML_TQ2_0: return {"TQ2_0", QK_K, sizeof(block_tq2_0)};
        case GGML_MXFP4: return {"MXFP4", 32, 17};
        case GGML_NVFP4: return {"NVFP4", 64, 36};
        case GGML_Q1_0: return {"Q1_0", 128, 18};
        default: return {nullptr, 0, 0};
    }
}
}  // namespace

int ggml_block_size(uint32_t type) { return type_info(type).block; }
size_t ggml_type_size(uint32_t type) { return type_info(type).bytes; }
const char* ggml_type_name(uint32_t type) {
    const char* n = type_info(type).name;
    return n ? n : "unknown";
}

size_t act_row_bytes(ActType act, int n) {
    switch (act) {
        case ACT_F32: return (size_t)n * sizeof(float);
        case ACT_Q8_0: return (size_t)(n / QK8_0) * sizeof(block_q8_0);
        case ACT_Q8_1: return (size_t)(n / QK8_1) * sizeof(block_q8_1);
        case ACT_Q8_K: return (size_t)(n / QK_K) * sizeof(block_q8_K);
        case ACT_I8_TOKEN: return (i8_token_bsum_offset(n) + (size_t)(n / QK_K) * 4 + 63) / 64 * 64;
        default: return 0;
    }
}

}  // namespace edgeq
