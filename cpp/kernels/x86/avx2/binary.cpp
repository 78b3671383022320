// AVX2 Q1_0 kernels with ACT_Q8_PLANES activations. Bit-exact with cpp/kernels/ref/binary.cpp: one
// lane per weight row keeps the reference's float order (loop nest in kernels/binary_driver.h).
//
// Tile: 8 weight rows. W[k] lane r = bits 32k .. 32k+31 of row r's block (qs bytes 4k .. 4k+3).
// AVX2 has no vector popcount: per plane b, the byte popcounts of W[k] & P[b][k] (nibble table
// lookups with vpshufb) are summed over k (<= 32 per byte), weighted by c_b with vpmaddubsw
// (u8 counts x s8 weight, pair sums <= 8192) and accumulated in int16 (|.| <= 64 * 255 = 16320);
// vpmaddwd with ones then gives S per row lane, isum = 2 S - sum.
//
// quantize_act_q8_planes: the reference's IEEE divide and round-half-to-even, then plane b of 32
// values is one vpmovmskb of the int8 values shifted left by 7 - b (bit b to each byte's top).
#include <immintrin.h>

#include <cstring>

#include "kernels/binary_driver.h"
#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2 {
namespace {

struct Q1Kernel {
    static constexpr int kLanes = 8;
    using ActBlock = block_q8_planes;
    struct Tile {
        __m256i w[4];
        __m256 d;
    };

    static inline __m128i bits(const uint8_t* row, int b) {
        return _mm_loadu_si128((const __m128i*)(row + (size_t)b * sizeof(block_q1_0) + offsetof(block_q1_0, qs)));
    }

    static inline void start(const uint8_t* const[8], Tile&) {}

    static inline void load(const uint8_t* const rows[8], int b, Tile& t) {
        // z[q], 128-bit lane i = row 4i + q; the unpacks put word k of row 4i + q at lane 4i + q of w[k].
        __m256i z[4];
        for (int q = 0; q < 4; q++) z[q] = _mm256_set_m128i(bits(rows[4 + q], b), bits(rows[q], b));
        const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
        t.w[0] = _mm256_unpacklo_epi64(t0, t2);
        t.w[1] = _mm256_unpackhi_epi64(t0, t2);
        t.w[2] = _mm256_unpacklo_epi64(t1, t3);
        t.w[3] = _mm256_unpackhi_epi64(t1, t3);
        alignas(16) ggml_half h[8];
        for (int i = 0; i < 8; i++) std::memcpy(&h[i], rows[i] + (size_t)b * sizeof(block_q1_0), 2);
        t.d = _mm256_cvtph_ps(_mm_load_si128((const __m128i*)h));
    }

    // Byte popcounts of v (0..8 per byte).
    static inline __m256i popcount8(__m256i v) {
        const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                             0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        const __m256i low = _mm256_set1_epi8(0x0F);
        return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                               _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
    }

    // c_b * (byte popcounts of W[k] & plane bits k, summed over k), as 16 int16 pair sums.
    static inline __m256i weighted_count(const Tile& t, const uint8_t* plane, int8_t c) {
        uint32_t p[4];
        std::memcpy(p, plane, 16);
        __m256i n = popcount8(_mm256_and_si256(t.w[0], _mm256_set1_epi32((int)p[0])));
        n = _mm256_add_epi8(n, popcount8(_mm256_and_si256(t.w[1], _mm256_set1_epi32((int)p[1]))));
        n = _mm256_add_epi8(n, popcount8(_mm256_and_si256(t.w[2], _mm256_set1_epi32((int)p[2]))));
        n = _mm256_add_epi8(n, popcount8(_mm256_and_si256(t.w[3], _mm256_set1_epi32((int)p[3]))));
        return _mm256_maddubs_epi16(n, _mm256_set1_epi8(c));
    }

    static inline void accumulate(const Tile& t, const block_q8_planes& x, float* acc) {
        __m256i s16 = weighted_count(t, x.planes[7], -128);
        for (int b = 0; b < 7; b++) s16 = _mm256_add_epi16(s16, weighted_count(t, x.planes[b], (int8_t)(1 << b)));
        const __m256i s = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
        const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(s, s), _mm256_set1_epi32(x.sum));
        const __m256 scale = _mm256_mul_ps(t.d, _mm256_set1_ps(x.d));
        _mm256_storeu_ps(acc, _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(isum), _mm256_loadu_ps(acc)));
    }
};

// Binary activations (ACT_B1): isum = 128 - 2 sum_k popcount(W[k] ^ X[k]) per lane (byte
// popcounts summed over k, <= 32, then per 32-bit lane with vpmaddubsw / vpmaddwd).
struct XnorKernel : Q1Kernel {
    using ActBlock = block_b1;
    static inline void accumulate(const Tile& t, const block_b1& x, float* acc) {
        uint32_t p[4];
        std::memcpy(p, x.bits, 16);
        __m256i n = popcount8(_mm256_xor_si256(t.w[0], _mm256_set1_epi32((int)p[0])));
        for (int k = 1; k < 4; k++) n = _mm256_add_epi8(n, popcount8(_mm256_xor_si256(t.w[k], _mm256_set1_epi32((int)p[k]))));
        const __m256i c = _mm256_madd_epi16(_mm256_maddubs_epi16(n, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
        const __m256i isum = _mm256_sub_epi32(_mm256_set1_epi32(QK1_0), _mm256_add_epi32(c, c));
        const __m256 scale = _mm256_mul_ps(t.d, _mm256_set1_ps(x.d));
        _mm256_storeu_ps(acc, _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(isum), _mm256_loadu_ps(acc)));
    }
};

// One block of 128 floats -> block_q8_planes (spec: kernels.h, cpp/kernels/ref/binary.cpp).
inline void quantize_block(const float* x, block_q8_planes& y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[16];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 16; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127.0f;
    y.d = d;
    if (d == 0.0f) {
        y.sum = 0;
        std::memset(y.planes, 0, sizeof(y.planes));
        return;
    }
    const __m256 dv = _mm256_set1_ps(d);
    __m256i sum = _mm256_setzero_si256();
    uint32_t planes[8][4];
    for (int g = 0; g < 4; g++) {  // 32 values: 4 x 8 int32 -> 32 int8 in element order
        __m256i i32[4];
        for (int k = 0; k < 4; k++) {
            i32[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_div_ps(v[4 * g + k], dv),
                                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            sum = _mm256_add_epi32(sum, i32[k]);
        }
        const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(i32[0], i32[1]), _mm256_packs_epi32(i32[2], i32[3]));
        const __m256i q = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        planes[7][g] = (uint32_t)_mm256_movemask_epi8(q);
        for (int b = 0; b < 7; b++)  // the shift moves bit b of each byte to its bit 7 (bits crossing into the next byte are not read)
            planes[b][g] = (uint32_t)_mm256_movemask_epi8(_mm256_sll_epi16(q, _mm_cvtsi32_si128(7 - b)));
    }
    std::memcpy(y.planes, planes, sizeof(planes));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    y.sum = _mm_cvtsi128_si32(s4);
}

void quantize_act_q8_planes(const float* x, void* xq, int n) {
    block_q8_planes* y = static_cast<block_q8_planes*>(xq);
    for (int i = 0; i < n / QK1_0; i++) quantize_block(x + i * QK1_0, y[i]);
}

}  // namespace

void register_binary(KernelTable& t) {
    t.matmul[GGML_Q1_0] = {ACT_Q8_PLANES, binary::matmul<Q1Kernel>};
    t.quantize_act[ACT_Q8_PLANES] = &quantize_act_q8_planes;
    t.q1_0_binary_act = {ACT_B1, binary::matmul<XnorKernel>};
}

}  // namespace edgeq::avx2
