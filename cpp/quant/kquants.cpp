// Q4_K and Q6_K weight quantizers: ggml's reference algorithm (quantize_row_q4_K_ref /
// quantize_row_q6_K_ref, no importance matrix), written out step by step. Every float operation
// is done in the order ggml does it, in float32 (the -ffp-contract=off build keeps it that way),
// so the bytes equal llama-quantize's; tests/python/test_quantize.py checks that against
// libggml-base itself, and the C++ test checks the round-trip error bounds.
//
// Formats (quant_types.h): a super-block holds 256 values.
//   Q4_K: 8 sub-blocks of 32; w = d * sc[j] * q - dmin * m[j], q in [0, 15], sc and m 6 bits,
//         d and dmin fp16.
//   Q6_K: 16 sub-blocks of 16; w = d * sc[s] * (q - 32), q in [0, 63], sc int8, d fp16.
//
// Both first fit a float scale (and for Q4_K a min) to every sub-block by a small search, then
// quantize those scales themselves against the super-block's largest one, then re-round every
// value with the scales as stored.
#include <cmath>
#include <cstring>

#include "edgeq/quant_types.h"
#include "quant/q4k_fields.h"
#include "quant/quantize.h"

namespace edgeq::quant {
namespace {

// Sub-block fit for Q4_K: x (n) ~ scale * L - min_out with L in [0, nmax], minimizing the weighted
// squared error sum_i w[i] (scale L[i] + min - x[i])^2 (min <= 0 here, stored as -min >= 0).
// Start from the straight min/max fit, then try nstep + 1 other grid densities
// iscale = (nmax + rmin + rdelta * k) / (max - min): for each, round, solve the 2x2 least-squares
// problem for (scale, min) with L fixed, and keep the best. Returns the scale; *min_out = -min.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out, float rmin,
                    float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;  // the min only shifts down: a block of positive values keeps offset 0
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *min_out = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
        const float diff = scale * L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    uint8_t trial[32];  // n <= 32
    for (int step = 0; step <= nstep; step++) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        // Normal equations of min over (s, m) of sum w (s l + m - x)^2.
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {  // a positive offset cannot be stored: refit the scale alone
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float error = 0;
            for (int i = 0; i < n; i++) {
                const float diff = this_scale * trial[i] + this_min - x[i];
                error += w[i] * (diff * diff);
            }
            if (error < best_error) {
                std::memcpy(L, trial, n);
                best_error = error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *min_out = -min;
    return scale;
}

// Sub-block fit for Q6_K (symmetric): x (n) ~ scale * (L - nmax), L in [0, 2 nmax - 1], weights
// x^2. The grid is anchored on the value of largest magnitude (max -> -nmax, so its sign sets the
// scale's sign); the least-squares scale for the rounded codes is compared over 19 grid densities
// iscale = -(nmax + 0.1 k) / max, k = -9..9, by the fit quality sumlx^2 / suml2. Returns the scale.
float fit_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {  // all (nearly) zero
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        iscale = -(nmax + 0.1f * k) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

}  // namespace

// x (n) -> n / 256 block_q4_K.
void quantize_row_q4_K(const float* x, void* y, int64_t n) {
    block_q4_K* out = static_cast<block_q4_K*>(y);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        block_q4_K& blk = out[b];
        uint8_t L[QK_K];
        float scales[8], mins[8];
        float max_scale = 0, max_min = 0;  // scales are >= 0 (the min absorbs the offset)
        for (int j = 0; j < 8; j++) {
            const float* xs = x + 32 * j;
            // Weights: values far from zero (relative to the sub-block's rms) count more.
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
            const float av_x = std::sqrt(sum_x2 / 32);
            float w[32];
            for (int l = 0; l < 32; l++) w[l] = av_x + std::fabs(xs[l]);
            scales[j] = fit_scale_min(32, 15, xs, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        // Six-bit sub-block scales and mins relative to the largest: sc = round(63 s / max_s).
        const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        uint8_t ls[8], lm[8];
        for (int j = 0; j < 8; j++) {
            // uint8 of the rounded value (it is in [0, 63.5]), then capped at 63, as ggml
            ls[j] = (uint8_t)nearest_int(inv_scale * scales[j]);
            lm[j] = (uint8_t)nearest_int(inv_min * mins[j]);
            if (ls[j] > 63) ls[j] = 63;
            if (lm[j] > 63) lm[j] = 63;
        }
        pack_q4_K_scales(ls, lm, blk.scales);
        blk.d = fp32_to_fp16(max_scale / 63.0f);
        blk.dmin = fp32_to_fp16(max_min / 63.0f);
        // Re-round every value against the scales as stored: q = round((x + dmin m) / (d sc)).
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            q4_K_scale_min(blk.scales, j, &sc, &m);
            const float d = fp16_to_fp32(blk.d) * sc;
            if (!d) continue;  // keeps the codes of the fit (they dequantize to -dmin m anyway)
            const float dm = fp16_to_fp32(blk.dmin) * m;
            for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clamp_int(nearest_int((x[32 * j + l] + dm) / d), 0, 15);
        }
        // Codes: 64-value chunk c in qs[32 c ..]: value 64 c + l low nibble, 64 c + 32 + l high.
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) blk.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

// x (n) -> n / 256 block_q6_K.
void quantize_row_q6_K(const float* x, void* y, int64_t n) {
    block_q6_K* out = static_cast<block_q6_K*>(y);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        block_q6_K& blk = out[b];
        int8_t L[QK_K];
        float scales[16];
        float max_scale = 0, max_abs_scale = 0;  // the sub-block scale of largest magnitude, signed
        for (int s = 0; s < 16; s++) {
            scales[s] = fit_scale_symmetric(16, 32, x + 16 * s, L + 16 * s);
            if (std::fabs(scales[s]) > max_abs_scale) {
                max_abs_scale = std::fabs(scales[s]);
                max_scale = scales[s];
            }
        }
        if (max_abs_scale < 1e-15f) {  // all zero: an all-zero block (d = 0)
            std::memset(&blk, 0, sizeof(blk));
            continue;
        }
        // int8 sub-block scales relative to the largest (which maps to -128): sc = round(-128 s / max).
        const float iscale = -128.0f / max_scale;
        blk.d = fp32_to_fp16(1 / iscale);
        for (int s = 0; s < 16; s++) {
            const int v = nearest_int(iscale * scales[s]);
            blk.scales[s] = (int8_t)(v < 127 ? v : 127);
        }
        // Re-round against the stored scales: q = round(x / (d sc)) + 32 in [0, 63].
        for (int s = 0; s < 16; s++) {
            const float d = fp16_to_fp32(blk.d) * blk.scales[s];
            if (!d) continue;
            for (int i = 0; i < 16; i++) L[16 * s + i] = (int8_t)(clamp_int(nearest_int(x[16 * s + i] / d), -32, 31) + 32);
        }
        // Codes: half h (128 values) uses ql[64 h ..] and qh[32 h ..]; for l < 32 the four values
        // 128 h + l + 32 u (u = 0..3): low nibbles ql[l] (u 0 | u 2 << 4), ql[l + 32] (u 1 | u 3 << 4),
        // top 2 bits of each in qh[l] at bits 2u.
        for (int h = 0; h < 2; h++) {
            const int8_t* Lh = L + 128 * h;
            uint8_t* ql = blk.ql + 64 * h;
            uint8_t* qh = blk.qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                const uint8_t q0 = (uint8_t)Lh[l], q1 = (uint8_t)Lh[l + 32], q2 = (uint8_t)Lh[l + 64],
                              q3 = (uint8_t)Lh[l + 96];
                ql[l] = (uint8_t)((q0 & 0xF) | ((q2 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                qh[l] = (uint8_t)((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
            }
        }
    }
}

}  // namespace edgeq::quant
