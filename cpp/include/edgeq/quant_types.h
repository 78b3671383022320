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
    GGML_I2_S = 36,  // bitnet.cpp's ggml fork only (layout: model/i2s.h); converted to TQ2_0 at load
    GGML_MXFP4 = 39,
    GGML_NVFP4 = 40,
    GGML_Q1_0 = 41,
    GGML_Q2_0 = 42,
    // edgeq-internal run-time layouts, made at load time and never read from or written to a file
    // (the loader refuses them in a GGUF): ids from the top of the table down.
    EDGEQ_TL2 = 63,  // ternary lookup-table layout (kernels/ternary_lut.h)
    // Legacy blocks of 16 rows interleaved (kernels/interleave.h)
    EDGEQ_Q4_0X16 = 62,
    EDGEQ_Q4_1X16 = 61,
    EDGEQ_Q5_0X16 = 60,
    EDGEQ_Q8_0X16 = 59,
    EDGEQ_Q4_KX16 = 58,
    EDGEQ_Q6_KX16 = 57,
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
constexpr int QK_I2_S = 128;  // values per 32-byte block of I2_S (+ one 32-byte trailer per tensor)

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

// Q1_0 (binary, 1.125 bpw; llama.cpp ggml-common.h block_q1_0, GGML type 41): w = +d if bit set,
// -d if clear. Value j of the block is bit j % 8 of qs[j / 8] (LSB first). llama.cpp's reference
// quantizer (quantize_row_q1_0_ref) stores d = fp16(mean |x|) and sets the bit iff x >= 0.
constexpr int QK1_0 = 128;
struct block_q1_0 {
    ggml_half d;
    uint8_t qs[QK1_0 / 8];
};
static_assert(sizeof(block_q1_0) == 18, "block_q1_0 is 18 bytes in GGUF");

// ACT_Q8_PLANES activation block (kernels.h): 128 int8 values q as eight bit planes, for
// bit-serial popcount dot products with Q1_0 weights. Bit j % 8 of planes[b][j / 8] is bit b of
// the two's complement byte q[j] (the Q1_0 bit order), so q[j] = sum_b c_b bit_b(j) with c_b = 2^b
// for b < 7 and c_7 = -128. x ~ d * q; sum = sum_j q[j].
struct block_q8_planes {
    float d;
    int32_t sum;
    uint8_t planes[8][QK1_0 / 8];
};
static_assert(sizeof(block_q8_planes) == 136, "block_q8_planes is 136 bytes");

// ACT_B1 activation block (kernels.h; the opt-in binary-activation mode of Q1_0): 128 values as
// sign bits, x ~ d * (bit ? +1 : -1), bit j % 8 of bits[j / 8] set iff x[j] >= 0, d = mean |x|:
// the activation quantized the way Q1_0 quantizes weights, with a float scale.
struct block_b1 {
    float d;
    uint8_t bits[QK1_0 / 8];
};
static_assert(sizeof(block_b1) == 20, "block_b1 is 20 bytes");

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

// ---- FP4 (E2M1) formats ----------------------------------------------------------------------
// Both store 4-bit E2M1 codes (sign bit 3, then 2 exponent bits and 1 mantissa bit) and decode them
// as ggml does: kvalues_fp4[code] is TWICE the E2M1 value (so it is an integer), and the scale
// helpers below return HALF the scale, so value = kvalues_fp4[code] * scale_half exactly.
constexpr int QK_MXFP4 = 32;
constexpr int QK_NVFP4 = 64;
constexpr int QK_NVFP4_SUB = 16;

// E2M1 values {0, 0.5, 1, 1.5, 2, 3, 4, 6} and their negatives, doubled (OCP MX spec v1.0).
constexpr int8_t kvalues_fp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// MXFP4 (OCP microscaling): y = kvalues_fp4[q] * e8m0_to_fp32_half(e). Element j (low nibble) and
// j + 16 (high nibble) share qs[j], as in Q4_0.
struct block_mxfp4 {
    uint8_t e;  // E8M0 scale: 2^(e - 127)
    uint8_t qs[QK_MXFP4 / 2];
};
static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 is 17 bytes in GGUF");

// NVFP4: 64 values = four sub-blocks of 16, each with a UE4M3 scale d[s]; in sub-block s, value j
// (low nibble) and j + 8 (high nibble) share qs[8 s + j]: y[16 s + j] = kvalues_fp4[q] *
// ue4m3_to_fp32_half(d[s]). A model may add a per-tensor float `<name>.scale` (ModelOpt's
// weight_scale_2) that multiplies the matmul output.
struct block_nvfp4 {
    uint8_t d[QK_NVFP4 / QK_NVFP4_SUB];
    uint8_t qs[QK_NVFP4 / 2];
};
static_assert(sizeof(block_nvfp4) == 36, "block_nvfp4 is 36 bytes in GGUF");

// 2^(e - 128) (half the E8M0 scale 2^(e - 127)), ggml_e8m0_to_fp32_half: float subnormals for
// e < 2. e = 255 (NaN in the MX spec) decodes as 2^127, as in ggml, which ignores NaNs.
static inline float e8m0_to_fp32_half(uint8_t e) {
    return fp32_from_bits(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

// Half the value of an unsigned E4M3 byte (bias 7, 3 mantissa bits, subnormals man * 2^-9), bit
// for bit ggml_ue4m3_to_fp32 for all 256 bytes: 0 and 0x7F (NaN) decode as 0; bit 7 is not a
// sign, it is dropped by the 4-bit exponent mask (so 0xFF decodes as 240, as in ggml).
// Exact: man * 2^k is a float.
static inline float ue4m3_to_fp32_half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int exp = (x >> 3) & 0xF, man = x & 7;
    if (exp == 0) return (float)man * 0x1p-10f;                        // man * 2^-9 / 2
    return (float)(8 + man) * fp32_from_bits((uint32_t)(exp - 11 + 127) << 23);  // (1 + man/8) 2^(exp-7) / 2
}

}  // namespace edgeq
