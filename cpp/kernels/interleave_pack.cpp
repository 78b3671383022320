// GGUF blocks <-> the x16 layouts (kernels/interleave.h). Both directions move one block of one
// row into / out of lane i of a tile: the legacy types through one field map, Q4_K and Q6_K on their own.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/kernels.h"
#include "quant/q4k_fields.h"

namespace edgeq::x16 {
namespace {

// Where a block's fields live, in the block and in the tile.
struct Fields {
    int n_qs_words;   // 4-byte groups of qs (4 for nibbles, 8 for Q8_0)
    size_t qs;        // offset of qs in the block
    size_t qh;        // offset of qh in the block (Q5_0), else 0
    size_t m;         // offset of m in the block (Q4_1), else 0
    size_t tile_d;    // offset of d[16] in the tile
    uint8_t bias;     // XORed into every qs byte in the tile (Q8_0: q + 128)
};

Fields fields(uint32_t base) {
    switch (base) {
        case GGML_Q4_0: return {4, offsetof(block_q4_0, qs), 0, 0, 256, 0};
        case GGML_Q4_1: return {4, offsetof(block_q4_1, qs), 0, offsetof(block_q4_1, m), 256, 0};
        case GGML_Q5_0: return {4, offsetof(block_q5_0, qs), offsetof(block_q5_0, qh), 0, 256 + 64, 0};
        case GGML_Q8_0: return {8, offsetof(block_q8_0, qs), 0, 0, 512, 0x80};
        default: throw std::logic_error(std::string("no x16 layout for ") + ggml_type_name(base));
    }
}

// Block (of row i of the group) -> lane i of tile (zeroed beforehand: Q5_0's masks are ORed in).
void block_to_lane(const Fields& f, const uint8_t* block, uint8_t* tile, int i) {
    const uint32_t bias = 0x01010101u * f.bias;
    for (int j = 0; j < f.n_qs_words; j++) {
        uint32_t v;
        std::memcpy(&v, block + f.qs + 4 * j, 4);
        v ^= bias;
        std::memcpy(tile + 64 * j + 4 * i, &v, 4);
    }
    std::memcpy(tile + f.tile_d + 2 * i, block, 2);  // d leads every legacy block
    if (f.m) std::memcpy(tile + f.tile_d + 32 + 2 * i, block + f.m, 2);
    if (f.qh) {
        uint32_t qh;
        std::memcpy(&qh, block + f.qh, 4);
        for (int g = 0; g < 8; g++) {
            uint64_t mask;
            std::memcpy(&mask, tile + 256 + 8 * g, 8);
            mask |= (uint64_t)((qh >> (4 * g)) & 15) << (4 * i);
            std::memcpy(tile + 256 + 8 * g, &mask, 8);
        }
    }
}

// Lane i of tile -> the block of row i.
void lane_to_block(const Fields& f, const uint8_t* tile, int i, uint8_t* block) {
    const uint32_t bias = 0x01010101u * f.bias;
    for (int j = 0; j < f.n_qs_words; j++) {
        uint32_t v;
        std::memcpy(&v, tile + 64 * j + 4 * i, 4);
        v ^= bias;
        std::memcpy(block + f.qs + 4 * j, &v, 4);
    }
    std::memcpy(block, tile + f.tile_d + 2 * i, 2);
    if (f.m) std::memcpy(block + f.m, tile + f.tile_d + 32 + 2 * i, 2);
    if (f.qh) {
        uint32_t qh = 0;
        for (int g = 0; g < 8; g++) {
            uint64_t mask;
            std::memcpy(&mask, tile + 256 + 8 * g, 8);
            qh |= (uint32_t)((mask >> (4 * i)) & 15) << (4 * g);
        }
        std::memcpy(block + f.qh, &qh, 4);
    }
}

// Q4_K: the 12 scale bytes unpacked to sc[8], m[8] (q4k_fields.h), d, dmin, then qs as 32 dwords.

void q4k_block_to_lane(const uint8_t* block, uint8_t* tile, int i) {
    block_q4_K b;
    std::memcpy(&b, block, sizeof b);
    for (int k = 0; k < 32; k++) std::memcpy(tile + kQ4KQs + 64 * k + 4 * i, b.qs + 4 * k, 4);
    for (int j = 0; j < 8; j++) quant::q4_K_scale_min(b.scales, j, tile + kQ4KSc + 16 * j + i, tile + kQ4KM + 16 * j + i);
    std::memcpy(tile + kQ4KD + 2 * i, &b.d, 2);
    std::memcpy(tile + kQ4KDmin + 2 * i, &b.dmin, 2);
}

void q4k_lane_to_block(const uint8_t* tile, int i, uint8_t* block) {
    block_q4_K b;
    for (int k = 0; k < 32; k++) std::memcpy(b.qs + 4 * k, tile + kQ4KQs + 64 * k + 4 * i, 4);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = tile[kQ4KSc + 16 * j + i];
        m[j] = tile[kQ4KM + 16 * j + i];
    }
    quant::pack_q4_K_scales(sc, m, b.scales);
    std::memcpy(&b.d, tile + kQ4KD + 2 * i, 2);
    std::memcpy(&b.dmin, tile + kQ4KDmin + 2 * i, 2);
    std::memcpy(block, &b, sizeof b);
}

// Q6_K: the 16 int8 scales, d, then ql and qh as dwords in the order the kernels read them (per
// half h: qh then ql).
size_t q6k_ql(int k) { return kQ6KQ + kQ6KHalf * (k / 16) + kQ6KQl + 64 * (k % 16); }
size_t q6k_qh(int k) { return kQ6KQ + kQ6KHalf * (k / 8) + 64 * (k % 8); }

void q6k_block_to_lane(const uint8_t* block, uint8_t* tile, int i) {
    block_q6_K b;
    std::memcpy(&b, block, sizeof b);
    for (int k = 0; k < 32; k++) std::memcpy(tile + q6k_ql(k) + 4 * i, b.ql + 4 * k, 4);
    for (int k = 0; k < 16; k++) std::memcpy(tile + q6k_qh(k) + 4 * i, b.qh + 4 * k, 4);
    for (int s = 0; s < 16; s++) std::memcpy(tile + kQ6KSc + 16 * s + i, &b.scales[s], 1);
    std::memcpy(tile + kQ6KD + 2 * i, &b.d, 2);
}

void q6k_lane_to_block(const uint8_t* tile, int i, uint8_t* block) {
    block_q6_K b;
    for (int k = 0; k < 32; k++) std::memcpy(b.ql + 4 * k, tile + q6k_ql(k) + 4 * i, 4);
    for (int k = 0; k < 16; k++) std::memcpy(b.qh + 4 * k, tile + q6k_qh(k) + 4 * i, 4);
    for (int s = 0; s < 16; s++) std::memcpy(&b.scales[s], tile + kQ6KSc + 16 * s + i, 1);
    std::memcpy(&b.d, tile + kQ6KD + 2 * i, 2);
    std::memcpy(block, &b, sizeof b);
}

// The legacy types' field map is looked up once per matrix / row (f: fields(base), else unused).
void to_lane(uint32_t base, const Fields& f, const uint8_t* block, uint8_t* tile, int i) {
    if (base == GGML_Q6_K) q6k_block_to_lane(block, tile, i);
    else if (base == GGML_Q4_K) q4k_block_to_lane(block, tile, i);
    else block_to_lane(f, block, tile, i);
}

void from_lane(uint32_t base, const Fields& f, const uint8_t* tile, int i, uint8_t* block) {
    if (base == GGML_Q6_K) q6k_lane_to_block(tile, i, block);
    else if (base == GGML_Q4_K) q4k_lane_to_block(tile, i, block);
    else lane_to_block(f, tile, i, block);
}

Fields fields_or_none(uint32_t base) {
    return base == GGML_Q4_K || base == GGML_Q6_K ? Fields{} : fields(base);
}

}  // namespace

uint32_t interleaved_type(uint32_t base) {
    switch (base) {
        case GGML_Q4_0: return EDGEQ_Q4_0X16;
        case GGML_Q4_1: return EDGEQ_Q4_1X16;
        case GGML_Q5_0: return EDGEQ_Q5_0X16;
        case GGML_Q8_0: return EDGEQ_Q8_0X16;
        case GGML_Q4_K: return EDGEQ_Q4_KX16;
        case GGML_Q6_K: return EDGEQ_Q6_KX16;
        default: return 0;
    }
}

uint32_t base_type(uint32_t x16_type) {
    switch (x16_type) {
        case EDGEQ_Q4_0X16: return GGML_Q4_0;
        case EDGEQ_Q4_1X16: return GGML_Q4_1;
        case EDGEQ_Q5_0X16: return GGML_Q5_0;
        case EDGEQ_Q8_0X16: return GGML_Q8_0;
        case EDGEQ_Q4_KX16: return GGML_Q4_K;
        case EDGEQ_Q6_KX16: return GGML_Q6_K;
        default: return 0;
    }
}

size_t tile_bytes(uint32_t x16_type) { return kRows * ggml_type_size(x16_type); }

void pack(uint32_t base, const uint8_t* W, size_t row_bytes, int n_in, int n_out, uint8_t* dst) {
    const uint32_t type = interleaved_type(base);
    if (!type) throw std::logic_error(std::string("no x16 layout for ") + ggml_type_name(base));
    const size_t block = ggml_type_size(base), tile = tile_bytes(type);
    const size_t group_bytes = kRows * weight_row_bytes(type, n_in);
    const int nb = n_in / ggml_block_size(base);
    const std::vector<uint8_t> zero(block, 0);  // the padding rows' blocks: all zero
    const Fields f = fields_or_none(base);
    for (int r = 0; r < (n_out + kRows - 1) / kRows * kRows; r++) {
        uint8_t* group = dst + (size_t)(r / kRows) * group_bytes;
        for (int b = 0; b < nb; b++)
            to_lane(base, f, r < n_out ? W + (size_t)r * row_bytes + b * block : zero.data(), group + b * tile, r % kRows);
    }
}

void unpack_row(uint32_t x16_type, const uint8_t* packed, int n_in, int r, uint8_t* row) {
    const uint32_t base = base_type(x16_type);
    const size_t block = ggml_type_size(base), tile = tile_bytes(x16_type);
    const int nb = n_in / ggml_block_size(base);
    const uint8_t* group = packed + (size_t)(r / kRows) * kRows * weight_row_bytes(x16_type, n_in);
    const Fields f = fields_or_none(base);
    for (int b = 0; b < nb; b++) from_lane(base, f, group + b * tile, r % kRows, row + b * block);
}

}  // namespace edgeq::x16
