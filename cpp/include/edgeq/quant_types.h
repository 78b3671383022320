// Block structs of the GGUF tensor types edgeq reads. These ARE the file format: the bytes
// of a tensor in a .gguf file are an array of these structs, row after row, never dependent
// on the ISA. Faster run-time layouts are produced from them at load time (repack.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace edgeq {

// GGUF / ggml type ids (see design.md "Facts to build on").
enum GgmlType : uint32_t {
    GGML_F32 = 0,
    GGML_F16 = 1,
    GGML_Q4_0 = 2,
    GGML_Q4_1 = 3,
    GGML_Q5_0 = 6,
    GGML_Q5_1 = 7,
    GGML_Q8_0 = 8,
    GGML_Q8_1 = 9,
    GGML_Q4_K = 12,
    GGML_Q6_K = 14,
    GGML_Q8_K = 15,
    GGML_BF16 = 30,
    GGML_TQ1_0 = 34,
    GGML_TQ2_0 = 35,
    GGML_MXFP4 = 39,
    GGML_NVFP4 = 40,
    GGML_Q1_0 = 41,
    GGML_Q2_0 = 42,
};
constexpr int kNumGgmlTypes = 64;  // table size; ids above this are rejected by the loader

typedef uint16_t ggml_half;  // IEEE binary16 bits
typedef uint16_t ggml_bf16;  // bfloat16 bits

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK8_1 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

// Q4_0: y = d * (q - 8), q in [0, 15]; qs[j] holds element j (low nibble) and j+16 (high nibble).
struct block_q4_0 {
    ggml_half d;
    uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes in GGUF");

// Q4_1: y = d * q + m; same nibble order as Q4_0.
struct block_q4_1 {
    ggml_half d;
    ggml_half m;
    uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes in GGUF");

// Q5_0: y = d * (q - 16), q in [0, 31]: the low 4 bits as Q4_0's nibbles (qs[j] & 15 is element
// j, qs[j] >> 4 element j + 16), bit 4 of element j is bit j of the little-endian uint32 qh.
struct block_q5_0 {
    ggml_half d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes in GGUF");

// Q5_1: y = d * q + m, q in [0, 31]; bits as Q5_0.
struct block_q5_1 {
    ggml_half d;
    ggml_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes in GGUF");

// Q8_0: y = d * q.
struct block_q8_0 {
    ggml_half d;
    int8_t qs[QK8_0];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes in GGUF");

// Q8_1 (activations for Q4_1): y = d * q, s = d * sum(q).
struct block_q8_1 {
    ggml_half d;
    ggml_half s;
    int8_t qs[QK8_1];
};
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is 36 bytes");

// Q4_K: super-block of 256 = 8 sub-blocks of 32; 6-bit sub-block scales and mins packed in
// `scales`; y = d * sc * q - dmin * m.
struct block_q4_K {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K is 144 bytes in GGUF");

// Q6_K: 16 sub-blocks of 16, int8 scales; y = d * sc * (q - 32), q 6 bits (ql low 4, qh high 2).
struct block_q6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    ggml_half d;
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K is 210 bytes in GGUF");

// Q8_K (activations for K-quants): y = d * q; bsums[i] = sum of qs[16 i .. 16 i + 15].
struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K is 292 bytes");

// TQ2_0 (ternary, 2.06 bpw): w = d * (c - 1), 2-bit code c in {0, 1, 2}. Value k of the block
// (k = 128 h + 32 l + m; h < 2, l < 4, m < 32) is bits 2l..2l+1 of qs[32 h + m].
struct block_tq2_0 {
    uint8_t qs[QK_K / 4];
    ggml_half d;
};
static_assert(sizeof(block_tq2_0) == 66, "block_tq2_0 is 66 bytes in GGUF");

// TQ1_0 (ternary, 1.69 bpw): w = d * (c - 1), c in {0, 1, 2}, five (qs) or four (qh) base-3
// digits per byte as a fixed-point fraction; digit n of byte b is ((uint8_t)(b * 3^n) * 3) >> 8.
// Values 0..159: qs[m], m < 32, digit n -> value 32 n + m; 160..239: qs[32 + m], m < 16, digit n ->
// value 160 + 16 n + m; 240..255: qh[j], j < 4, digit n < 4 -> value 240 + 4 n + j.
struct block_tq1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    ggml_half d;
};
static_assert(sizeof(block_tq1_0) == 54, "block_tq1_0 is 54 bytes in GGUF");

// ---- Scalar half / bfloat16 conversion (exact, portable; the reference for SIMD paths) ----
// `static`: each translation unit keeps its own copy, so a copy compiled with AVX2 flags in an
// AVX2 file can never be picked by the linker for baseline code (ODR merging of inline functions).
static inline float fp32_from_bits(uint32_t w) { float f; std::memcpy(&f, &w, 4); return f; }
static inline uint32_t fp32_to_bits(float f) { uint32_t w; std::memcpy(&w, &f, 4); return w; }

static inline float fp16_to_fp32(ggml_half h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / nan
    if (exp == 0) {
        if (mant == 0) return fp32_from_bits(sign);
        // subnormal: value = mant * 2^-24
        float v = (float)mant * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even, as F16C's vcvtps2ph with rounding mode 0 and numpy's float16 cast.
static inline ggml_half fp32_to_fp16(float f) {
    uint32_t x = fp32_to_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return (ggml_half)(sign | 0x7c00 | (x > 0x7f800000u ? 0x200 : 0));
    if (x >= 0x477ff000u) return (ggml_half)(sign | 0x7c00);  // overflow -> inf
    if (x < 0x38800000u) {                                   // subnormal or zero in f16
        if (x < 0x33000000u) return (ggml_half)sign;          // < half of smallest subnormal
        const uint32_t e = x >> 23;
        const uint32_t m = (x & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e;                       // 14 + (112 - e) ... = 126 - e
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (ggml_half)(sign | r);
    }
    uint32_t r = ((x >> 13) - (112u << 10));
    const uint32_t rem = x & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (ggml_half)(sign | r);
}

static inline float bf16_to_fp32(ggml_bf16 h) { return fp32_from_bits((uint32_t)h << 16); }

}  // namespace edgeq
