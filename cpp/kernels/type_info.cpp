// Sizes and names of GGUF tensor types, edgeq's internal layouts and activation formats.
#include "kernels/interleave.h"
#include "kernels/kernels.h"
#include "kernels/ternary_lut.h"
#include "kernels/ternary_lut_dword.h"

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
        case GGML_I2_S: return {"I2_S", QK_I2_S, QK_I2_S / 4};  // blocks only: + 32 bytes per tensor
        case GGML_MXFP4: return {"MXFP4", QK_MXFP4, sizeof(block_mxfp4)};
        case GGML_NVFP4: return {"NVFP4", QK_NVFP4, sizeof(block_nvfp4)};
        case GGML_Q1_0: return {"Q1_0", QK1_0, sizeof(block_q1_0)};
        // Internal: bytes per 256-value block of a row; the row adds its fp16 scale (weight_row_bytes).
        case EDGEQ_TL2: return {"TL2", QK_K, tl::kBlockBytes / tl::kTileRows};
        case EDGEQ_TL2D: return {"TL2D", QK_K, tld::kBlockBytes / tld::kTileRows};
        // Internal: the base type's blocks, 16 rows interleaved (kernels/interleave.h).
        case EDGEQ_Q4_0X16: return {"Q4_0x16", QK4_0, sizeof(block_q4_0)};
        case EDGEQ_Q4_1X16: return {"Q4_1x16", QK4_1, sizeof(block_q4_1)};
        case EDGEQ_Q5_0X16: return {"Q5_0x16", QK5_0, sizeof(block_q5_0)};
        case EDGEQ_Q8_0X16: return {"Q8_0x16", QK8_0, sizeof(block_q8_0)};
        case EDGEQ_Q6_KX16: return {"Q6_Kx16", QK_K, sizeof(block_q6_K)};
        case EDGEQ_Q4_KX16: return {"Q4_Kx16", QK_K, x16::kQ4KRowBlockBytes};  // scales as bytes: 4 more
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

const char* act_type_name(int act) {
    static const char* const names[] = {"F32", "Q8_0", "Q8_1", "Q8_K", "I8_TOKEN", "I8_LUT3", "Q8_PLANES", "B1", "I8_LUT3S"};
    static_assert(sizeof(names) / sizeof(names[0]) == kNumActTypes, "name every ActType");
    return act >= 0 && act < kNumActTypes ? names[act] : "unknown";
}

size_t weight_row_bytes(uint32_t type, int n) {
    if (type == EDGEQ_TL2) return tl::row_bytes(n);
    if (type == EDGEQ_TL2D) return tld::row_bytes(n);
    const int bs = ggml_block_size(type);
    return bs ? (size_t)(n / bs) * ggml_type_size(type) : 0;
}

int matmul_row_tile(uint32_t type) {
    if (type == EDGEQ_TL2) return tl::kTileRows;
    if (type == EDGEQ_TL2D) return tld::kTileRows;
    return x16::base_type(type) ? x16::kRows : 1;
}

bool is_internal_type(uint32_t type) { return type == EDGEQ_TL2 || type == EDGEQ_TL2D || x16::base_type(type) != 0; }

size_t weight_matrix_bytes(uint32_t type, int n_in, int n_out) {
    const int tile = matmul_row_tile(type);
    return (size_t)((n_out + tile - 1) / tile * tile) * weight_row_bytes(type, n_in);
}

int act_block_size(ActType act) {
    switch (act) {
        case ACT_F32: return 1;
        case ACT_Q8_0: return QK8_0;
        case ACT_Q8_1: return QK8_1;
        case ACT_Q8_K: case ACT_I8_TOKEN: return QK_K;
        case ACT_Q8_PLANES: case ACT_B1: return QK1_0;
        default: return 0;
    }
}

size_t act_row_bytes(ActType act, int n) {
    switch (act) {
        case ACT_F32: return (size_t)n * sizeof(float);
        case ACT_Q8_0: return (size_t)(n / QK8_0) * sizeof(block_q8_0);
        case ACT_Q8_1: return (size_t)(n / QK8_1) * sizeof(block_q8_1);
        case ACT_Q8_K: return (size_t)(n / QK_K) * sizeof(block_q8_K);
        case ACT_I8_TOKEN: return (i8_token_bsum_offset(n) + (size_t)(n / QK_K) * 4 + 63) / 64 * 64;
        case ACT_I8_LUT3: return act_row_bytes(ACT_I8_TOKEN, n) + (size_t)(n / QK_K) * tl::kBlockTableBytes;
        case ACT_I8_LUT3S: return act_row_bytes(ACT_I8_TOKEN, n) + (size_t)(n / QK_K) * tld::kBlockTableBytes;
        case ACT_Q8_PLANES: return (size_t)(n / QK1_0) * sizeof(block_q8_planes);
        case ACT_B1: return (size_t)(n / QK1_0) * sizeof(block_b1);
        default: return 0;
    }
}

}  // namespace edgeq
