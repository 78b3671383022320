// Q4_K with a searched fit (`edgeq quantize --q4k-search mse|wmse`): the same format, better
// bytes, no calibration data.
//
// ggml's reference (kquants.cpp) fits a float scale and min to each 32-value sub-block, then
// rounds those to 6 bits against the super-block's largest, and never revisits the fit: the
// 6-bit rounding of the scales (up to half a step of 1/63 of the largest) is error it takes as
// it comes. Here the reference result is only the start; then, per 256-value super-block,
// alternately until nothing improves (at most kRounds times):
//   (a) every sub-block j tries the 6-bit (sc, m) pairs within +-2 of its current ones and keeps
//       the one with the lowest error, its codes re-rounded to the nearest level (the best codes
//       for fixed scales, whatever the weights);
//   (b) with every integer fixed (sc[j], m[j], the codes q), the super-block's d and dmin are
//       the weighted least-squares solution of x ~ d (sc q) - dmin m (a 2x2 system), rounded to
//       fp16, and the codes are re-rounded; kept only if the error went down.
// The error is sum_i w_i (decoded_i - x_i)^2 with the decoded value computed as the dequantizer
// does (fp16 d, dmin). Weights: "mse" w = 1 (plain squared error); "wmse" ggml's own weighting
// w = rms(sub-block) + |x| (large values count more). Each step only accepts a lower error, so
// the result is never worse than the reference in its own metric.
#include <cmath>
#include <cstring>

#include "edgeq/quant_types.h"
#include "quant/q4k_fields.h"
#include "quant/quantize.h"

namespace edgeq::quant {
namespace {

constexpr int kRounds = 6;     // (a) + (b) passes per super-block (most stop after 2 or 3)
constexpr int kNeighbours = 2;  // (a) tries sc, m within +-2

// One super-block being refined: the integers and the fp16-rounded super-block scales.
struct Fit {
    uint8_t sc[8], m[8], q[QK_K];
    float d, dmin;  // as stored (fp16 values)
};

inline float round_fp16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

// Nearest codes of sub-block xs (32) for scale d * sc and offset dmin * m; returns the error.
float round_sub_block(const float* xs, const float* w, float d, float dmin, int sc, int m, uint8_t* q) {
    const float ds = d * (float)sc, dm = dmin * (float)m;
    float err = 0;
    for (int l = 0; l < 32; l++) {
        const int c = ds != 0.0f ? clamp_int(nearest_int((xs[l] + dm) / ds), 0, 15) : 0;
        q[l] = (uint8_t)c;
        const float diff = ds * (float)c - dm - xs[l];
        err += w[l] * diff * diff;
    }
    return err;
}

float round_all(const float* x, const float* w, Fit& f) {
    float err = 0;
    for (int j = 0; j < 8; j++) err += round_sub_block(x + 32 * j, w + 32 * j, f.d, f.dmin, f.sc[j], f.m[j], f.q + 32 * j);
    return err;
}

// (a): the best (sc, m) of each sub-block near its current pair; returns the total error.
float search_sub_scales(const float* x, const float* w, Fit& f) {
    float total = 0;
    uint8_t trial[32];
    for (int j = 0; j < 8; j++) {
        const float* xs = x + 32 * j;
        const float* ws = w + 32 * j;
        float best = round_sub_block(xs, ws, f.d, f.dmin, f.sc[j], f.m[j], f.q + 32 * j);
        const int sc0 = f.sc[j], m0 = f.m[j];
        for (int sc = sc0 - kNeighbours; sc <= sc0 + kNeighbours; sc++) {
            if (sc < 0 || sc > 63) continue;
            for (int m = m0 - kNeighbours; m <= m0 + kNeighbours; m++) {
                if (m < 0 || m > 63 || (sc == sc0 && m == m0)) continue;
                const float err = round_sub_block(xs, ws, f.d, f.dmin, sc, m, trial);
                if (err < best) {
                    best = err;
                    f.sc[j] = (uint8_t)sc;
                    f.m[j] = (uint8_t)m;
                    std::memcpy(f.q + 32 * j, trial, 32);
                }
            }
        }
        total += best;
    }
    return total;
}

// (b): least-squares d, dmin for the fixed integers. False when the system is singular or the
// solution is not storable as a non-negative pair (the fit is then left as it is).
bool solve_super_scales(const float* x, const float* w, const Fit& f, float* d, float* dmin) {
    // minimize sum w (d a - dmin b - x)^2, a = sc q, b = m: normal equations in (d, -dmin).
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int i = 0; i < QK_K; i++) {
        const double a = (double)f.sc[i / 32] * f.q[i], b = f.m[i / 32], wi = w[i];
        saa += wi * a * a;
        sab += wi * a * b;
        sbb += wi * b * b;
        sax += wi * a * x[i];
        sbx += wi * b * x[i];
    }
    const double det = saa * sbb - sab * sab;
    if (!(det > 1e-12 * saa * sbb) || saa <= 0) return false;
    const double dd = (sax * sbb - sbx * sab) / det;
    const double neg_dmin = (saa * sbx - sab * sax) / det;
    if (!(dd > 0) || -neg_dmin < 0 || !std::isfinite(dd) || !std::isfinite(neg_dmin)) return false;
    *d = round_fp16((float)dd);
    *dmin = round_fp16((float)-neg_dmin);
    return std::isfinite(*d) && std::isfinite(*dmin) && *d > 0;
}

void refine(const float* x, const float* w, block_q4_K& blk) {
    Fit f;
    for (int j = 0; j < 8; j++) q4_K_scale_min(blk.scales, j, &f.sc[j], &f.m[j]);
    f.d = fp16_to_fp32(blk.d);
    f.dmin = fp16_to_fp32(blk.dmin);
    if (!(f.d > 0) || !std::isfinite(f.d) || !std::isfinite(f.dmin)) return;  // all-equal / zero block: keep
    // The reference's own codes were rounded against the same stored scales, so this is its error.
    float err = round_all(x, w, f);
    const float ref_err = err;
    for (int r = 0; r < kRounds; r++) {
        const float before = err;
        err = search_sub_scales(x, w, f);
        Fit g = f;
        if (solve_super_scales(x, w, f, &g.d, &g.dmin)) {
            const float e = round_all(x, w, g);
            if (e < err) {
                f = g;
                err = e;
            }
        }
        if (!(err < before)) break;
    }
    if (!(err < ref_err)) return;
    pack_q4_K_scales(f.sc, f.m, blk.scales);
    blk.d = fp32_to_fp16(f.d);
    blk.dmin = fp32_to_fp16(f.dmin);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) blk.qs[32 * c + l] = (uint8_t)(f.q[64 * c + l] | (f.q[64 * c + 32 + l] << 4));
}

template <bool kWeighted>
void quantize_row_q4_K_search(const float* x, void* y, int64_t n) {
    quantize_row_q4_K(x, y, n);  // the reference fit is the starting point
    block_q4_K* out = static_cast<block_q4_K*>(y);
    float w[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        for (int j = 0; j < 8; j++) {
            const float* xs = x + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
            const float av_x = std::sqrt(sum_x2 / 32);
            for (int l = 0; l < 32; l++) w[32 * j + l] = kWeighted ? av_x + std::fabs(xs[l]) : 1.0f;
        }
        refine(x, w, out[b]);
    }
}

}  // namespace

void quantize_row_q4_K_mse(const float* x, void* y, int64_t n) { quantize_row_q4_K_search<false>(x, y, n); }
void quantize_row_q4_K_wmse(const float* x, void* y, int64_t n) { quantize_row_q4_K_search<true>(x, y, n); }

}  // namespace edgeq::quant
