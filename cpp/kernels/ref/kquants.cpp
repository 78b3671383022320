// Scalar reference for the K-quant weight types Q4_K and Q6_K and their Q8_K activations.
// This file is the spec: the SIMD versions (x86/avx2/kquants*.cpp) are tested against it, and it
// is tested against the `gguf` package's numpy dequantizers (tests/python).
//
// Formats (one super-block = 256 values, see quant_types.h):
//   Q4_K: 8 sub-blocks of 32, 6-bit scale sc[j] and min m[j] each;
//         w = fp16(d) * sc[j] * q - fp16(dmin) * m[j],  q in [0, 15].
//   Q6_K: 16 sub-blocks of 16, int8 scale sc[s] each;  w = fp16(d) * sc[s] * (q - 32),  q in [0, 63].
//   Q8_K: x = d * q,  q in [-127, 127],  bsums[s] = sum of q over values 16 s .. 16 s + 15.
//
// Matmul (the contract in kernels.h): Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T.
// Per output (t, r) and super-block b the products are summed exactly in int32, then scaled once
// in float:
//   Q4_K: acc += (d_w * d_x) * isum - (dmin_w * d_x) * imin,
//         isum = sum_j sc[j] * sum_{k in j} q[k] * q8[k],   imin = sum_j m[j] * (bsums of j)
//   Q6_K: acc += (d_w * d_x) * isum,   isum = sum_s sc[s] * sum_{k in s} (q[k] - 32) * q8[k]
// (|isum| < 2^31: Q4_K 8*63*32*15*127 ~ 3.1e7, Q6_K 256*128*32*127 ~ 1.1e9.)
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/ref/ref.h"

namespace edgeq::ref {

// ---- Q4_K scale unpacking -----------------------------------------------------------------------
// scales[12] holds 8 six-bit scales and 8 six-bit mins:
//   j < 4:  sc = s[j] & 63,                          m = s[j + 4] & 63
//   j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,  m = (s[j + 4] >> 4) | (s[j] >> 6) << 4
static void q4_K_scale_min(const uint8_t* s, int j, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Value k (0..255) of a Q4_K block as its 4-bit code: 64-value chunk c = k / 64 lives in
// qs[32 c .. 32 c + 31], low nibbles for k % 64 < 32 (sub-block 2c), high nibbles otherwise.
static inline int q4_K_code(const block_q4_K& b, int k) {
    const int c = k / 64, l = k % 64;
    const uint8_t byte = b.qs[32 * c + (l % 32)];
    return l < 32 ? (byte & 0xF) : (byte >> 4);
}

// Value k (0..255) of a Q6_K block as its 6-bit code q (value = q - 32). Half h = k / 128 uses
// ql[64 h ..], qh[32 h ..]; within it, with l = k % 32 and quarter u = (k % 128) / 32:
//   low 4 bits  = ql[64 h + l + 32 (u & 1)] nibble (u < 2 ? low : high)
//   high 2 bits = (qh[32 h + l] >> (2 u)) & 3
static inline int q6_K_code(const block_q6_K& b, int k) {
    const int h = k / 128, u = (k % 128) / 32, l = k % 32;
    const uint8_t lo_byte = b.ql[64 * h + l + 32 * (u & 1)];
    const int lo = u < 2 ? (lo_byte & 0xF) : (lo_byte >> 4);
    const int hi = (b.qh[32 * h + l] >> (2 * u)) & 3;
    return lo | (hi << 4);
}

// ---- Dequantization (one row of n values, n % 256 == 0) ----------------------------------------
// Float order matters for exactness against gguf's numpy: (d * sc) * q - (dmin * m), all float32.
static void dequantize_row_q4_K(const void* w, float* y, int n) {
    const block_q4_K* blocks = (const block_q4_K*)w;
    for (int i = 0; i < n / QK_K; i++) {
        const block_q4_K& b = blocks[i];
        const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            q4_K_scale_min(b.scales, j, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            for (int k = 32 * j; k < 32 * j + 32; k++) y[i * QK_K + k] = d1 * (float)q4_K_code(b, k) - m1;
        }
    }
}

// y = (d * sc[s]) * (q - 32), float32.
static void dequantize_row_q6_K(const void* w, float* y, int n) {
    const block_q6_K* blocks = (const block_q6_K*)w;
    for (int i = 0; i < n / QK_K; i++) {
        const block_q6_K& b = blocks[i];
        const float d = fp16_to_fp32(b.d);
        for (int k = 0; k < QK_K; k++) {
            const float ds = d * (float)b.scales[k / 16];
            y[i * QK_K + k] = ds * (float)(q6_K_code(b, k) - 32);
        }
    }
}

// ---- Q8_K activation quantization (x (n) -> n / 256 block_q8_K) --------------------------------
// Per block: max = the first x with the largest |x|; iscale = -127 / max (so max -> -127);
// q = min(127, round_half_even(iscale * x)); d = 1 / iscale. All-zero block: d = 0, q = 0.
// (Same as ggml's quantize_row_q8_K_ref; SIMD versions must be bit-identical.)
static void quantize_row_q8_K(const float* x, void* xq, int n) {
    block_q8_K* out = (block_q8_K*)xq;
    for (int i = 0; i < n / QK_K; i++) {
        const float* xb = x + i * QK_K;
        block_q8_K& b = out[i];
        float amax = 0.0f, max = 0.0f;
        for (int k = 0; k < QK_K; k++) {
            const float ax = std::fabs(xb[k]);
            if (ax > amax) { amax = ax; max = xb[k]; }
        }
        if (amax == 0.0f) {
            std::memset(&b, 0, sizeof(b));
            continue;
        }
        const float iscale = -127.0f / max;
        for (int k = 0; k < QK_K; k++) {
            const int v = (int)std::nearbyint(iscale * xb[k]);  // default rounding: half to even
            b.qs[k] = (int8_t)(v < 127 ? v : 127);
        }
        for (int s = 0; s < QK_K / 16; s++) {
            int sum = 0;
            for (int k = 16 * s; k < 16 * s + 16; k++) sum += b.qs[k];
            b.bsums[s] = (int16_t)sum;
        }
        b.d = 1.0f / iscale;
    }
}

// ---- Dot products of one weight row with one activation row (nb super-blocks) --------------------
static float dot_q4_K_q8_K(const block_q4_K* w, const block_q8_K* x, int nb) {
    float acc = 0.0f;
    for (int i = 0; i < nb; i++) {
        int32_t isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            q4_K_scale_min(w[i].scales, j, &sc, &m);
            int32_t s = 0;
            for (int k = 32 * j; k < 32 * j + 32; k++) s += q4_K_code(w[i], k) * x[i].qs[k];
            isum += (int32_t)sc * s;
            imin += (int32_t)m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        const float d = fp16_to_fp32(w[i].d) * x[i].d, dmin = fp16_to_fp32(w[i].dmin) * x[i].d;
        acc += d * (float)isum - dmin * (float)imin;
    }
    return acc;
}

static float dot_q6_K_q8_K(const block_q6_K* w, const block_q8_K* x, int nb) {
    float acc = 0.0f;
    for (int i = 0; i < nb; i++) {
        int32_t isum = 0;
        for (int s = 0; s < 16; s++) {
            int32_t p = 0;
            for (int k = 16 * s; k < 16 * s + 16; k++) p += (q6_K_code(w[i], k) - 32) * x[i].qs[k];
            isum += (int32_t)w[i].scales[s] * p;
        }
        acc += (fp16_to_fp32(w[i].d) * x[i].d) * (float)isum;
    }
    return acc;
}

// ---- Matmul: Y[t * ldy + r] = dot(W row r, X row t) for r in [row0, row1), t < n_tok ----------------
template <typename Block, float (*Dot)(const Block*, const block_q8_K*, int)>
static void matmul_k(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y, size_t ldy,
                     int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK_K;
    for (int r = row0; r < row1; r++) {
        const Block* w = (const Block*)((const uint8_t*)W + (size_t)r * w_row_bytes);
        for (int t = 0; t < n_tok; t++) {
            const block_q8_K* x = (const block_q8_K*)((const uint8_t*)Xq + (size_t)t * x_row_bytes);
            Y[(size_t)t * ldy + r] = Dot(w, x, nb);
        }
    }
}

// The same for the x16 layouts (kernels/interleave.h): each row unpacked to its GGUF blocks first.
template <uint32_t X16, typename Block, float (*Dot)(const Block*, const block_q8_K*, int)>
static void matmul_k_x16(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes, float* Y,
                         size_t ldy, int n_in, int n_tok, int row0, int row1) {
    const int nb = n_in / QK_K;
    std::vector<Block> row(nb);
    for (int r = row0; r < row1; r++) {
        x16::unpack_row(X16, (const uint8_t*)W, n_in, r, (uint8_t*)row.data());
        for (int t = 0; t < n_tok; t++)
            Y[(size_t)t * ldy + r] = Dot(row.data(), (const block_q8_K*)((const uint8_t*)Xq + (size_t)t * x_row_bytes), nb);
    }
}

void register_kquants(KernelTable& t) {
    t.matmul[EDGEQ_Q4_KX16] = {ACT_Q8_K, matmul_k_x16<EDGEQ_Q4_KX16, block_q4_K, dot_q4_K_q8_K>};
    t.matmul[EDGEQ_Q6_KX16] = {ACT_Q8_K, matmul_k_x16<EDGEQ_Q6_KX16, block_q6_K, dot_q6_K_q8_K>};
    t.quantize_act[ACT_Q8_K] = quantize_row_q8_K;
    t.dequantize_row[GGML_Q4_K] = dequantize_row_q4_K;
    t.dequantize_row[GGML_Q6_K] = dequantize_row_q6_K;
    t.matmul[GGML_Q4_K] = {ACT_Q8_K, matmul_k<block_q4_K, dot_q4_K_q8_K>};
    t.matmul[GGML_Q6_K] = {ACT_Q8_K, matmul_k<block_q6_K, dot_q6_K_q8_K>};
}

}  // namespace edgeq::ref
