// Float kernels (F32 / F16 / BF16 weights with float activations, dot_f32, axpy_f32) of every
// ISA this CPU runs, against the scalar reference: conversions bit-exact, sums within a bound.
#include <cmath>

#include "test_util.h"

using namespace edgeq;
using test::rng;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // float32 unit roundoff

// n_out rows of n_in weights of `type` (values ~ N(0, 1) at different row scales).
std::vector<uint8_t> random_weight_rows(uint32_t type, int n_out, int n_in, std::vector<double>& values) {
    const size_t es = ggml_type_size(type);
    std::vector<uint8_t> w((size_t)n_out * n_in * es);
    values.resize((size_t)n_out * n_in);
    std::uniform_real_distribution<float> lg(-3.0f, 1.0f);
    for (int r = 0; r < n_out; r++) {
        const auto v = test::random_floats(n_in, std::pow(10.0f, lg(rng())));
        for (int i = 0; i < n_in; i++) {
            const size_t k = (size_t)r * n_in + i;
            if (type == GGML_F32) {
                std::memcpy(w.data() + 4 * k, &v[i], 4);
                values[k] = v[i];
            } else if (type == GGML_F16) {
                const ggml_half h = fp32_to_fp16(v[i]);
                std::memcpy(w.data() + 2 * k, &h, 2);
                values[k] = fp16_to_fp32(h);
            } else {  // BF16: truncate
                const ggml_bf16 h = (ggml_bf16)(fp32_to_bits(v[i]) >> 16);
                std::memcpy(w.data() + 2 * k, &h, 2);
                values[k] = bf16_to_fp32(h);
            }
        }
    }
    return w;
}

// F16: all 65536 patterns, bit-exact except NaN (only "is NaN" is specified: F16C quiets
// signalling NaNs). BF16: all patterns bit-exact. F32: a copy.
void test_dequantize(const KernelTable& ref, const KernelTable& k) {
    std::vector<uint16_t> all(1 << 16);
    for (int i = 0; i < (1 << 16); i++) all[i] = (uint16_t)i;
    std::vector<float> want(1 << 16), got(1 << 16);
    for (uint32_t type : {GGML_F16, GGML_BF16}) {
        ref.dequantize_row[type](all.data(), want.data(), 1 << 16);
        k.dequantize_row[type](all.data(), got.data(), 1 << 16);
        for (int i = 0; i < (1 << 16); i++) {
            if (std::isnan(want[i]) && type == GGML_F16) {
                test::counters().comparisons++;
                if (!std::isnan(got[i])) {
                    std::fprintf(stderr, "FAIL %s dequantize F16 %04x: not NaN\n", k.name, i);
                    test::counters().failures++;
                }
                continue;
            }
            test::expect_bits_equal(&got[i], &want[i], 1, std::string(k.name) + " dequantize " + ggml_type_name(type));
        }
    }
    for (int n : {1, 7, 8, 29}) {  // odd lengths: tails of the 8-wide loop
        const auto x = test::random_floats(n);
        std::vector<float> y(n);
        k.dequantize_row[GGML_F32](x.data(), y.data(), n);
        test::expect_bits_equal(y.data(), x.data(), n, std::string(k.name) + " dequantize F32");
        k.quantize_act[ACT_F32](x.data(), y.data(), n);
        test::expect_bits_equal(y.data(), x.data(), n, std::string(k.name) + " quantize_act F32");
    }
}

// Matmul bound: the weights convert exactly, so both versions sum the same n_in float products.
// The reference rounds each product and sums in order (<= n_in roundings, each <= u times a
// partial sum of |terms|); SIMD sums 8 lanes (n_in / 8 FMAs), a 3-level tree and a scalar tail
// (< 8). So each is within (n_in + 1) u S of the exact sum, S = sum_i |W_i X_i|, and they differ
// by at most (2 n_in + 2) u S; we allow (2 n_in + 16) u S.
void test_matmul(const KernelTable& ref, const KernelTable& k) {
    std::uniform_int_distribution<int> pick(0, 1 << 30);
    for (uint32_t type : {GGML_F32, GGML_F16, GGML_BF16}) {
        for (int n_out : {1, 3, 17, 67}) {
            for (int n_in : {1, 13, 32, 96, 544}) {
                for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33}) {
                    std::vector<double> wv;
                    const auto w = random_weight_rows(type, n_out, n_in, wv);
                    const auto x = test::random_floats((size_t)n_tok * n_in);
                    const size_t wrb = (size_t)n_in * ggml_type_size(type), xrb = (size_t)n_in * 4;
                    int row0 = 0, row1 = n_out;
                    if (pick(rng()) % 2) {
                        row0 = pick(rng()) % n_out;
                        row1 = row0 + 1 + pick(rng()) % (n_out - row0);
                    }
                    const size_t ldy = n_out + 1;
                    std::vector<float> want(n_tok * ldy, -7.0f), got(n_tok * ldy, -7.0f);
                    ref.matmul[type].fn(w.data(), wrb, x.data(), xrb, want.data(), ldy, n_in, n_tok, row0, row1);
                    k.matmul[type].fn(w.data(), wrb, x.data(), xrb, got.data(), ldy, n_in, n_tok, row0, row1);
                    const std::string what = std::string(k.name) + " matmul " + ggml_type_name(type) +
                                             " n_out=" + std::to_string(n_out) + " n_in=" + std::to_string(n_in) +
                                             " n_tok=" + std::to_string(n_tok);
                    for (int t = 0; t < n_tok; t++) {
                        for (size_t r = 0; r < ldy; r++) {
                            const float g = got[t * ldy + r], want_v = want[t * ldy + r];
                            if ((int)r < row0 || (int)r >= row1) {
                                test::expect_bits_equal(&g, &want_v, 1, what + " (outside rows)");
                                continue;
                            }
                            double S = 0;
                            for (int i = 0; i < n_in; i++) S += std::fabs(wv[r * n_in + i] * x[t * n_in + i]);
                            test::expect_close(&g, &want_v, 1, (2.0 * n_in + 16) * kU * S, 0.0, what);
                        }
                    }
                }
            }
        }
    }
}

// dot_f32: same argument as matmul, (2 n + 16) u sum |a_i b_i|.
// axpy_f32: the reference rounds a * x and then the sum, FMA rounds once:
// |difference| <= 3 u (|y| + |a x|).
void test_dot_axpy(const KernelTable& ref, const KernelTable& k) {
    for (int n : {0, 1, 7, 8, 9, 31, 32, 33, 100, 1000}) {
        const auto a = test::random_floats(n), b = test::random_floats(n);
        double S = 0;
        for (int i = 0; i < n; i++) S += std::fabs((double)a[i] * b[i]);
        const float want = ref.dot_f32(a.data(), b.data(), n), got = k.dot_f32(a.data(), b.data(), n);
        test::expect_close(&got, &want, 1, (2.0 * n + 16) * kU * S, 0.0, std::string(k.name) + " dot_f32 n=" + std::to_string(n));

        const float alpha = 0.37f;
        std::vector<float> yw = b, yg = b;
        ref.axpy_f32(alpha, a.data(), yw.data(), n);
        k.axpy_f32(alpha, a.data(), yg.data(), n);
        for (int i = 0; i < n; i++) {
            const double bound = 3 * kU * (std::fabs(b[i]) + std::fabs((double)alpha * a[i]));
            test::expect_close(&yg[i], &yw[i], 1, bound, 0.0, std::string(k.name) + " axpy_f32 n=" + std::to_string(n));
        }
    }
}

// dot_rows_f32 / weighted_rows_f32 (attention over m cached rows `stride` apart) equal the
// table's own per-row dot_f32 / axpy_f32 calls bit for bit, on every table including ref.
void test_attention_rows(const KernelTable& k) {
    for (int m : {1, 2, 5, 17, 64}) {
        for (int n : {1, 8, 33, 128}) {
            const size_t stride = (size_t)n + 7;  // rows of a wider cache (other heads between)
            const auto K = test::random_floats((int)(m * stride)), q = test::random_floats(n);
            const auto w = test::random_floats(m);
            std::vector<float> s(m), want_s(m), out(n, 99.0f), want_out(n, 0.0f);
            k.dot_rows_f32(q.data(), K.data(), stride, m, n, 0.125f, s.data());
            k.weighted_rows_f32(w.data(), K.data(), stride, m, n, out.data());
            for (int j = 0; j < m; j++) {
                want_s[j] = k.dot_f32(q.data(), K.data() + j * stride, n) * 0.125f;
                k.axpy_f32(w[j], K.data() + j * stride, want_out.data(), n);
            }
            const std::string what = std::string(k.name) + " m=" + std::to_string(m) + " n=" + std::to_string(n);
            test::expect_bytes_equal((const uint8_t*)s.data(), (const uint8_t*)want_s.data(), 4 * m, what + " dot_rows");
            test::expect_bytes_equal((const uint8_t*)out.data(), (const uint8_t*)want_out.data(), 4 * n,
                                     what + " weighted_rows");
        }
    }
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    test_attention_rows(ref);
    for (const auto& isa : test::isas_under_test()) {
        const KernelTable& k = kernels_for(isa);
        std::printf("testing %s\n", isa.c_str());
        test_dequantize(ref, k);
        test_matmul(ref, k);
        test_dot_axpy(ref, k);
        test_attention_rows(k);
    }
    return test::finish("test_kernels_float");
}
