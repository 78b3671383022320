// The C++ Q4_K / Q6_K weight quantizers (cpp/quant) against the formats' definitions:
//   - every value decodes (the scalar reference dequantizer) to within the format's error bound
//     of the source, on Gaussian, heavy-tailed, positive, sparse, all-zero and tiny data;
//   - the bytes do not depend on the thread count or on how rows are grouped into calls;
//   - the fields are in range (Q6_K's largest sub-block scale is -128 exactly);
//   - bad arguments throw.
// Byte equality with llama.cpp's reference quantizers is tested in tests/python/test_quantize.py
// (it needs libggml-base from a llama.cpp build).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "quant/quantize.h"
#include "test_util.h"

using namespace edgeq;
namespace t = edgeq::test;

namespace {

enum class Kind { Normal, Heavy, Positive, Sparse, Zero, Tiny };
const char* kind_name(Kind k) {
    switch (k) {
        case Kind::Normal: return "normal";
        case Kind::Heavy: return "heavy";
        case Kind::Positive: return "positive";
        case Kind::Sparse: return "sparse";
        case Kind::Zero: return "zero";
        default: return "tiny";
    }
}

std::vector<float> sample(Kind kind, size_t n) {
    std::vector<float> x = t::random_floats(n);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::student_t_distribution<float> heavy(2.0f);
    for (float& v : x) {
        switch (kind) {
            case Kind::Heavy: v = heavy(t::rng()); break;
            case Kind::Positive: v = u(t::rng()); break;
            case Kind::Sparse: v = u(t::rng()) < 0.9f ? 0.0f : v; break;
            case Kind::Zero: v = 0.0f; break;
            case Kind::Tiny: v *= 1e-4f; break;
            default: break;
        }
    }
    return x;
}

// Largest error of storing v >= 0 as fp16: half an ulp (2^-11 relative), at least half the
// subnormal spacing (2^-25).
double fp16_err(double v) { return std::max(v * 0x1p-11, 0x1p-25); }

// Per 256-value super-block, the largest |decoded - x| (see tests/python/test_quantize.py
// error_bound for the derivation):
//   Q4_K: one step of range / 15 (half a step of rounding, half a step of 6-bit scale / min
//         rounding at the sub-block ends), range = max - min(min, 0); plus fp16 of d and dmin.
//   Q6_K: 0.75 x amax / 31 (half a step, plus 8-bit sub-block scale rounding); plus fp16 of d.
double bound(uint32_t type, const float* x) {
    double lo = 0, hi = 0, amax = 0;
    for (int i = 0; i < QK_K; i++) {
        lo = std::min(lo, (double)x[i]);
        hi = std::max(hi, (double)x[i]);
        amax = std::max(amax, std::fabs((double)x[i]));
    }
    if (type == GGML_Q4_K) {
        const double step = (hi - lo) / 15;
        return step + 63 * 15 * fp16_err(step / 63) + 63 * fp16_err(step * 15 / 63);
    }
    const double step = amax / 31;
    return 0.75 * step + 128 * 32 * fp16_err(step / 128);
}

bool expect_bytes_equal(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, const std::string& what) {
    t::counters().comparisons++;
    if (got == want) return true;
    size_t i = 0;
    while (i < got.size() && got[i] == want[i]) i++;
    std::fprintf(stderr, "FAIL %s: bytes differ from offset %zu\n", what.c_str(), i);
    t::counters().failures++;
    return false;
}

void check_type(uint32_t type) {
    const std::string name = ggml_type_name(type);
    const KernelTable& ref = kernels_for("ref");
    const int n_rows = 13, n = 768;
    const size_t row_bytes = (size_t)(n / QK_K) * ggml_type_size(type);
    for (Kind kind : {Kind::Normal, Kind::Heavy, Kind::Positive, Kind::Sparse, Kind::Zero, Kind::Tiny}) {
        const std::string what = name + " " + kind_name(kind);
        const std::vector<float> x = sample(kind, (size_t)n_rows * n);
        std::vector<uint8_t> q1(row_bytes * n_rows), q3(row_bytes * n_rows), qrow(row_bytes * n_rows);
        quantize_rows(type, x.data(), q1.data(), n_rows, n, 1);
        quantize_rows(type, x.data(), q3.data(), n_rows, n, 3);
        expect_bytes_equal(q3, q1, what + ": 3 threads vs 1");
        for (int r = 0; r < n_rows; r++)  // one row per call: same bytes as all rows at once
            weight_quantizer(type)(x.data() + (size_t)r * n, qrow.data() + r * row_bytes, n);
        expect_bytes_equal(qrow, q1, what + ": row by row");

        std::vector<float> y((size_t)n_rows * n);
        for (int r = 0; r < n_rows; r++) ref.dequantize_row[type](q1.data() + r * row_bytes, y.data() + (size_t)r * n, n);
        t::counters().comparisons++;
        for (size_t b = 0; b < x.size() / QK_K; b++) {
            const double lim = bound(type, &x[b * QK_K]);
            for (int i = 0; i < QK_K; i++) {
                const size_t k = b * QK_K + i;
                const double err = std::fabs((double)y[k] - (double)x[k]);
                if (!(err <= lim) || (kind == Kind::Zero && y[k] != 0.0f)) {
                    std::fprintf(stderr, "FAIL %s: value %zu: %.9g decodes to %.9g (error %.3g > bound %.3g)\n",
                                 what.c_str(), k, x[k], y[k], err, lim);
                    t::counters().failures++;
                    b = x.size();  // one report per case
                    break;
                }
            }
        }
        if (type == GGML_Q6_K && kind != Kind::Zero) {
            // The sub-block scale of largest magnitude is stored as -128 (d carries its sign).
            t::counters().comparisons++;
            const block_q6_K* blk = reinterpret_cast<const block_q6_K*>(q1.data());
            for (size_t b = 0; b < q1.size() / sizeof(block_q6_K); b++) {
                int most = 0;
                for (int s = 0; s < 16; s++) most = std::min<int>(most, blk[b].scales[s]);
                if (most != -128) {
                    std::fprintf(stderr, "FAIL %s: block %zu: smallest scale %d, want -128\n", what.c_str(), b, most);
                    t::counters().failures++;
                    break;
                }
            }
        }
    }
}

void check_errors() {
    float x[QK_K] = {};
    uint8_t y[sizeof(block_q4_K)];
    auto expect_throw = [](const char* what, auto&& f) {
        t::counters().comparisons++;
        try {
            f();
        } catch (const std::invalid_argument&) {
            return;
        }
        std::fprintf(stderr, "FAIL %s: no std::invalid_argument\n", what);
        t::counters().failures++;
    };
    expect_throw("row of 100 values", [&] { quantize_rows(GGML_Q4_K, x, y, 1, 100, 1); });
    expect_throw("type without a C++ quantizer", [&] { quantize_rows(GGML_Q8_0, x, y, 1, 256, 1); });
    t::counters().comparisons++;
    if (weight_quantizer(GGML_Q4_K) == nullptr || weight_quantizer(GGML_TQ2_0) != nullptr) {
        std::fprintf(stderr, "FAIL weight_quantizer table\n");
        t::counters().failures++;
    }
}

}  // namespace

int main() {
    check_type(GGML_Q4_K);
    check_type(GGML_Q6_K);
    check_errors();
    return t::finish("test_quantize_kquants");
}
