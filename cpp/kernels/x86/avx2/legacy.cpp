// AVX2 kernels for the legacy block types: Q4_0 / Q5_0 / Q8_0 weights with Q8_0 activations,
// Q4_1 / Q5_1 weights with Q8_1 activations, row dequantizers and activation quantizers.
// Bit-exact with kernels/ref/legacy.cpp for dequantization and activation quantization (same
// IEEE divide and round-half-to-even); matmul block dots are exact int32 sums, only the float
// sum over blocks runs in a different order (8 lanes, then a tree).
//
// Per block of 32, the int8 dot uses vpmaddubsw (unsigned x signed -> int16 pairs) and
// vpmaddwd with ones (-> 8 int32 lanes), then one FMA with the scale dw * dx. Operands:
//   Q4_1: nibbles q in [0, 15] are already unsigned.
//   Q4_0: (q - 8) . x = q . x - 8 * sum(x); both int16 pair sums fit (|.| <= 3810, 2032).
//   Q5_0 / Q5_1: q in [0, 31] (nibble | high bit << 4); Q5_0 as Q4_0 with offset 16 (pair sums
//         <= 7874 and 4064).
//   Q8_0: |w| . (x * sign(w)), the usual sign trick; activations are in [-127, 127] so the
//         int16 pair sums (<= 2 * 128 * 127) never saturate.
// Matmul tiles (tiles.h): R weight rows x T tokens; each weight block is unpacked once per
// tile and reused for T tokens. Decode (n_tok == 1) streams 4 rows at once.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "kernels/x86/avx2/avx2.h"
#include "kernels/x86/avx2/tiles.h"

namespace edgeq::avx2 {
namespace {

inline float half(ggml_half h) { return _cvtsh_ss(h); }

template <class Block>
inline __m256i unpack_q5(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), q5_high_bits(b.qh)); }

// ---- Activation quantization (see ref/legacy.cpp for the spec) ------------------------------
// One block of 32 floats -> q (32 int8, element order kept); returns d. *qsum = sum of q.
inline float quantize_block_q8(const float* x, int8_t* q, int* qsum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127.0f;
    if (d == 0.0f) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_setzero_si256());
        *qsum = 0;
        return d;
    }
    const __m256 dv = _mm256_set1_ps(d);
    __m256i i32[4];
    for (int k = 0; k < 4; k++)
        i32[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_div_ps(v[k], dv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    // Sum of q: int32 lanes.
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i32[0], i32[1]), _mm256_add_epi32(i32[2], i32[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    *qsum = _mm_cvtsi128_si32(s4);
    // int32 -> int8: the packs interleave 128-bit lanes; the permute restores element order.
    const __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]);
    const __m256i p16b = _mm256_packs_epi32(i32[2], i32[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
    return d;
}

void quantize_act_q8_0(const float* x, void* xq, int n) {
    block_q8_0* y = static_cast<block_q8_0*>(xq);
    int sum;
    for (int b = 0; b < n / QK8_0; b++) y[b].d = fp32_to_fp16(quantize_block_q8(x + b * QK8_0, y[b].qs, &sum));
}

void quantize_act_q8_1(const float* x, void* xq, int n) {
    block_q8_1* y = static_cast<block_q8_1*>(xq);
    for (int b = 0; b < n / QK8_1; b++) {
        int sum;
        const float d = quantize_block_q8(x + b * QK8_1, y[b].qs, &sum);
        y[b].d = fp32_to_fp16(d);
        y[b].s = fp32_to_fp16(d * (float)sum);
    }
}

// ---- Dequantization --------------------------------------------------------------------------
// 32 int8 (in a ymm) -> 32 floats d * q (+ m). d * q is exact (<= 15 bits), so the FMA rounds
// exactly like the reference's d * q + m; without m a plain multiply keeps the sign of zero.
template <bool kHasMin>
inline void store_scaled(__m256i q8, __m256 d, __m256 m, float* y) {
    const __m128i lo = _mm256_castsi256_si128(q8), hi = _mm256_extracti128_si256(q8, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]));
        _mm256_storeu_ps(y + 8 * k, kHasMin ? _mm256_fmadd_ps(d, q, m) : _mm256_mul_ps(d, q));
    }
}

void dequantize_row_q4_0(const void* w, float* y, int n) {
    const block_q4_0* x = static_cast<const block_q4_0*>(w);
    for (int b = 0; b < n / QK4_0; b++)
        store_scaled<false>(_mm256_sub_epi8(unpack_nibbles(x[b].qs), _mm256_set1_epi8(8)), _mm256_set1_ps(half(x[b].d)),
                     _mm256_setzero_ps(), y + b * QK4_0);
}

void dequantize_row_q4_1(const void* w, float* y, int n) {
    const block_q4_1* x = static_cast<const block_q4_1*>(w);
    for (int b = 0; b < n / QK4_1; b++)
        store_scaled<true>(unpack_nibbles(x[b].qs), _mm256_set1_ps(half(x[b].d)), _mm256_set1_ps(half(x[b].m)),
                     y + b * QK4_1);
}

void dequantize_row_q5_0(const void* w, float* y, int n) {
    const block_q5_0* x = static_cast<const block_q5_0*>(w);
    for (int b = 0; b < n / QK5_0; b++)
        store_scaled<false>(_mm256_sub_epi8(unpack_q5(x[b]), _mm256_set1_epi8(16)), _mm256_set1_ps(half(x[b].d)),
                            _mm256_setzero_ps(), y + b * QK5_0);
}

void dequantize_row_q5_1(const void* w, float* y, int n) {
    const block_q5_1* x = static_cast<const block_q5_1*>(w);
    for (int b = 0; b < n / QK5_1; b++)
        store_scaled<true>(unpack_q5(x[b]), _mm256_set1_ps(half(x[b].d)), _mm256_set1_ps(half(x[b].m)), y + b * QK5_1);
}

void dequantize_row_q8_0(const void* w, float* y, int n) {
    const block_q8_0* x = static_cast<const block_q8_0*>(w);
    for (int b = 0; b < n / QK8_0; b++)
        store_scaled<false>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs)), _mm256_set1_ps(half(x[b].d)),
                     _mm256_setzero_ps(), y + b * QK8_0);
}

// ---- Matmul tiles ----------------------------------------------------------------------------
// Lane k of v in all 8 lanes (k is a constant once the row loop is unrolled).
inline __m256 lane(__m256 v, int k) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(k)); }

// The 16-bit words at byte offset `off` of block b of rows 0..R-1 -> words 0..R-1 of h.
template <int R, int r = 0, class WB>
inline __m128i gather16(const WB* const (&w)[R], int b, size_t off, __m128i h = _mm_setzero_si128()) {
    if constexpr (r == R) return h;
    else {
        uint16_t v;
        std::memcpy(&v, reinterpret_cast<const uint8_t*>(&w[r][b]) + off, 2);
        return gather16<R, r + 1>(w, b, off, _mm_insert_epi16(h, v, r));
    }
}
// Same for 32-bit words (Q4_1's adjacent d, m).
template <int R, int r = 0, class WB>
inline __m128i gather32(const WB* const (&w)[R], int b, __m128i h = _mm_setzero_si128()) {
    if constexpr (r == R) return h;
    else {
        int32_t v;
        std::memcpy(&v, &w[r][b], 4);
        return gather32<R, r + 1>(w, b, _mm_insert_epi32(h, v, r));
    }
}

// Formats: how one weight block meets one activation block.
//   scales<R>(w, b): the fp16 scales of block b of R rows, converted together (one vcvtph2ps)
//   kDLane(r): lane of row r's d in that vector; Q4_1 also has m at lanes 2r + 1
//   prep(block) -> the weight operand, once per block and tile
//   dot16(prep, x, aux) -> 16 int16 pair sums of the exact block dot
//   aux(x) -> per-token helper for dot16, once per block and tile
struct FmtQ4_0 {  // (q - 8) . x = q . x - 8 sum(x)
    using WB = block_q4_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static constexpr int kMaxRows = 8;
    static constexpr int d_lane(int r) { return r; }
    template <int R>
    static __m256 scales(const WB* const (&w)[R], int b) { return _mm256_cvtph_ps(gather16<R>(w, b, 0)); }
    static __m256i prep(const WB& blk) { return unpack_nibbles(blk.qs); }
    static __m256i aux(__m256i x) { return _mm256_maddubs_epi16(_mm256_set1_epi8(8), x); }
    static __m256i dot16(__m256i q, __m256i x, __m256i x8) { return _mm256_sub_epi16(_mm256_maddubs_epi16(q, x), x8); }
};

struct FmtQ5_0 : FmtQ4_0 {  // (q - 16) . x = q . x - 16 sum(x)
    using WB = block_q5_0;
    template <int R>
    static __m256 scales(const WB* const (&w)[R], int b) { return _mm256_cvtph_ps(gather16<R>(w, b, 0)); }
    static __m256i prep(const WB& blk) { return unpack_q5(blk); }
    static __m256i aux(__m256i x) { return _mm256_maddubs_epi16(_mm256_set1_epi8(16), x); }
};

struct FmtQ8_0 {  // |w| . (x * sign(w)); prep keeps w for the sign
    using WB = block_q8_0;
    using XB = block_q8_0;
    static constexpr bool kHasMin = false;
    static constexpr int kMaxRows = 8;
    static constexpr int d_lane(int r) { return r; }
    template <int R>
    static __m256 scales(const WB* const (&w)[R], int b) { return _mm256_cvtph_ps(gather16<R>(w, b, 0)); }
    static __m256i prep(const WB& blk) { return load32(blk.qs); }
    static __m256i aux(__m256i) { return _mm256_setzero_si256(); }
    static __m256i dot16(__m256i w, __m256i x, __m256i) {
        return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    }
};

struct FmtQ4_1 {  // q . x, plus m * s per block
    using WB = block_q4_1;
    using XB = block_q8_1;
    static constexpr bool kHasMin = true;
    static constexpr int kMaxRows = 4;
    static constexpr int d_lane(int r) { return 2 * r; }
    template <int R>
    static __m256 scales(const WB* const (&w)[R], int b) {  // (d, m) pairs are adjacent
        return _mm256_cvtph_ps(gather32<R>(w, b));
    }
    // lanes 0..3 <- m of rows 0..3
    static __m256 mins(__m256 dm) { return _mm256_permutevar8x32_ps(dm, _mm256_setr_epi32(1, 3, 5, 7, 0, 0, 0, 0)); }
    static __m256i prep(const WB& blk) { return unpack_nibbles(blk.qs); }
    static __m256i aux(__m256i) { return _mm256_setzero_si256(); }
    static __m256i dot16(__m256i q, __m256i x, __m256i) { return _mm256_maddubs_epi16(q, x); }
};

struct FmtQ5_1 : FmtQ4_1 {  // q . x, plus m * s per block; (d, m) lead the block as in Q4_1
    using WB = block_q5_1;
    template <int R>
    static __m256 scales(const WB* const (&w)[R], int b) { return _mm256_cvtph_ps(gather32<R>(w, b)); }
    static __m256i prep(const WB& blk) { return unpack_q5(blk); }
};

// One R x T tile: per block, each weight block is prepared once and multiplied with T
// activation blocks; acc[r][t] += float(int32 lanes) * (dw * dx). Q4_1's m * s terms go to
// macc[t], lane r (R m's times one s per FMA), added after the horizontal sums.
template <class F>
struct QuantTile {
    template <int R, int T>
    static void tile(const TileArgs& a, int r0, int t0) {
        static_assert(R <= F::kMaxRows, "too many rows for the scale vector");
        using WB = typename F::WB;
        using XB = typename F::XB;
        const WB* w[R];
        const XB* x[T];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) w[r] = reinterpret_cast<const WB*>(a.W + (size_t)(r0 + r) * a.w_row_bytes);
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) x[t] = reinterpret_cast<const XB*>(a.X + (size_t)(t0 + t) * a.x_row_bytes);
        const int nb = a.n_in / 32;
        const float* xd[T];
        const float* xs[T];
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) xd[t] = a.xd + (size_t)(t0 + t) * nb, xs[t] = a.xs + (size_t)(t0 + t) * nb;
        __m256 acc[R][T], macc[T];
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            macc[t] = _mm256_setzero_ps();
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_setzero_ps();
        }
        for (int b = 0; b < nb; b++) {
            __m256i xv[T], xa[T];
            #pragma GCC unroll 8
            for (int t = 0; t < T; t++) xv[t] = load32(x[t][b].qs), xa[t] = F::aux(xv[t]);
            const __m256 dm = F::template scales<R>(w, b);
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const __m256i q = F::prep(w[r][b]);
                const __m256 dw = lane(dm, F::d_lane(r));
                #pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const __m256 scale = _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[t] + b));
                    acc[r][t] = _mm256_fmadd_ps(pairs_to_float(F::dot16(q, xv[t], xa[t])), scale, acc[r][t]);
                }
            }
            if constexpr (F::kHasMin) {
                const __m256 m = F::mins(dm);
                #pragma GCC unroll 8
                for (int t = 0; t < T; t++) macc[t] = _mm256_fmadd_ps(m, _mm256_broadcast_ss(xs[t] + b), macc[t]);
            }
        }
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            alignas(32) float ms[8];
            _mm256_store_ps(ms, macc[t]);
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                a.Y[(size_t)(t0 + t) * a.ldy + r0 + r] = hsum(acc[r][t]) + (F::kHasMin ? ms[r] : 0.0f);
        }
    }
};

// Tile shapes: prompt processing 2 rows x 4 tokens (8 accumulators; each weight block serves 4
// tokens, the measured best of 2x4 .. 6x2 on a Sapphire Rapids core), decode 4 rows at once.
constexpr int kRows = 2, kToks = 4, kGemvRows = 4;

// Per-call scratch of one thread: the activation scales d (and Q8_1's s) as floats.
struct Scratch {
    std::vector<float> xd, xs;
};
Scratch& scratch() {
    static thread_local Scratch s;
    return s;
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T for rows [row0, row1).
template <class F>
void matmul_blocks(const void* W, size_t w_row_bytes, const void* X, size_t x_row_bytes, float* Y, size_t ldy,
                   int n_in, int n_tok, int row0, int row1) {
    using XB = typename F::XB;
    const int nb = n_in / 32;
    Scratch& s = scratch();
    s.xd.resize((size_t)n_tok * nb);
    if constexpr (F::kHasMin) s.xs.resize((size_t)n_tok * nb);
    for (int t = 0; t < n_tok; t++) {
        const XB* x = reinterpret_cast<const XB*>(static_cast<const uint8_t*>(X) + (size_t)t * x_row_bytes);
        for (int b = 0; b < nb; b++) {
            s.xd[(size_t)t * nb + b] = half(x[b].d);
            if constexpr (F::kHasMin) s.xs[(size_t)t * nb + b] = half(x[b].s);
        }
    }
    TileArgs a{static_cast<const uint8_t*>(W), w_row_bytes, static_cast<const uint8_t*>(X), x_row_bytes, Y, ldy, n_in};
    a.xd = s.xd.data();
    a.xs = s.xs.data();
    using K = QuantTile<F>;
    if (n_tok == 1) for_each_tile<K, kGemvRows, 1>(a, 1, row0, row1);
    else for_each_tile<K, kRows, kToks>(a, n_tok, row0, row1);
}

}  // namespace

void register_legacy(KernelTable& t) {
    t.matmul[GGML_Q4_0] = {ACT_Q8_0, &matmul_blocks<FmtQ4_0>};
    t.matmul[GGML_Q4_1] = {ACT_Q8_1, &matmul_blocks<FmtQ4_1>};
    t.matmul[GGML_Q5_0] = {ACT_Q8_0, &matmul_blocks<FmtQ5_0>};
    t.matmul[GGML_Q5_1] = {ACT_Q8_1, &matmul_blocks<FmtQ5_1>};
    t.matmul[GGML_Q8_0] = {ACT_Q8_0, &matmul_blocks<FmtQ8_0>};
    t.dequantize_row[GGML_Q4_0] = &dequantize_row_q4_0;
    t.dequantize_row[GGML_Q4_1] = &dequantize_row_q4_1;
    t.dequantize_row[GGML_Q5_0] = &dequantize_row_q5_0;
    t.dequantize_row[GGML_Q5_1] = &dequantize_row_q5_1;
    t.dequantize_row[GGML_Q8_0] = &dequantize_row_q8_0;
    t.quantize_act[ACT_Q8_0] = &quantize_act_q8_0;
    t.quantize_act[ACT_Q8_1] = &quantize_act_q8_1;
}

}  // namespace edgeq::avx2
