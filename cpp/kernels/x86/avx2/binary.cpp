// AVX2 Q1_0 kernels with ACT_Q8_PLANES activations. Bit-exact with cpp/kernels/ref/binary.cpp: one
// lane per weight row keeps the reference's float order (loop nest in kernels/binary_driver.h).
//
// Tile: 8 weight rows. W[k] lane r = bits 32k .. 32k+31 of row r's block (qs bytes 4k .. 4k+3).
// AVX2 has no vector popcount: per plane b, the byte popcounts of W[k] & P[b][k] (nibble table
// lookups with vpshufb) are summed over k (<= 32 per byte), weighted by c_b with vpmaddubsw
// (u8 counts x s8 weight, pair sums <= 8192) and accumulated in int16 (|.| <= 64 * 255 = 16320);
// vpmaddwd with ones then gives S per row lane, isum = 2 S - sum.
#include <immintrin.h>

#include <cstring>

#include "kernels/binary_driver.h"
#include "kernels/x86/avx2/avx2.h"

namespace edgeq::avx2 {
namespace {

struct Q1Kernel {
    static constexpr int kLanes = 8;
    struct Tile {
        __m256i w[4];
        __m256 d;
    };

    static inline __m128i bits(const uint8_t* row, int b) {
        return _mm_loadu_si128((const __m128i*)(row + (size_t)b * sizeof(block_q1_0) + offsetof(block_q1_0, qs)));
    }

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

}  // namespace

void register_binary(KernelTable& t) { t.matmul[GGML_Q1_0] = {ACT_Q8_PLANES, binary::matmul<Q1Kernel>}; }

}  // namespace edgeq::avx2
