// Legacy block kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights; Q8_0 / Q8_1 activations) of every ISA this CPU
// runs, against the scalar reference: activation quantization and dequantization bit-exact,
// matmul within a float-summation bound, on ragged shapes and random row ranges. The same for
// the x16 layouts (kernels/interleave.h) of Q4_0, Q4_1, Q5_0, Q8_0, whose packing must round-trip
// exactly and whose reference matmul must equal the base type's bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/interleave.h"
#include "test_util.h"

using namespace edgeq;
using test::rng;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // float32 unit roundoff
constexpr uint32_t kTypes[] = {GGML_Q4_0, GGML_Q4_1, GGML_Q5_0, GGML_Q5_1, GGML_Q8_0};

// Weight rows of a legacy type with sane fp16 scales and random quants (Q8_0 includes -128).
std::vector<uint8_t> random_weight_rows(uint32_t type, int n_out, int n_in) {
    const int nb = n_in / 32;
    const size_t bs = ggml_type_size(type);
    std::vector<uint8_t> w = test::random_bytes((size_t)n_out * nb * bs);
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (size_t k = 0; k < (size_t)n_out * nb; k++) {
        ggml_half* h = reinterpret_cast<ggml_half*>(w.data() + k * bs);  // d (and m for Q4_1) lead
        h[0] = fp32_to_fp16(scale(rng()));
        if (type == GGML_Q4_1 || type == GGML_Q5_1) h[1] = fp32_to_fp16(scale(rng()));
    }
    return w;
}

// Activation rows: normal values, with an all-zero block and a block of exact ties (amax 127
// makes d = 1, so x = k + 0.5 exercises round-half-to-even).
std::vector<float> random_activations(int n_tok, int n) {
    std::vector<float> x = test::random_floats((size_t)n_tok * n, 2.0f);
    std::fill(x.begin(), x.begin() + 32, 0.0f);
    if (n >= 64) {
        for (int j = 0; j < 32; j++) x[32 + j] = (float)j - 15.5f;
        x[32] = 127.0f;
    }
    return x;
}

std::vector<uint8_t> quantize_rows(const KernelTable& k, ActType act, const std::vector<float>& x, int n_tok, int n) {
    const size_t rb = act_row_bytes(act, n);
    std::vector<uint8_t> q(rb * n_tok);
    for (int t = 0; t < n_tok; t++) k.quantize_act[act](x.data() + (size_t)t * n, q.data() + t * rb, n);
    return q;
}

void test_quantize_act(const KernelTable& ref, const KernelTable& k) {
    for (ActType act : {ACT_Q8_0, ACT_Q8_1}) {
        for (int n : {32, 96, 544}) {
            const int n_tok = 3;
            const auto x = random_activations(n_tok, n);
            const auto want = quantize_rows(ref, act, x, n_tok, n);
            const auto got = quantize_rows(k, act, x, n_tok, n);
            test::counters().comparisons++;
            if (want != got) {
                std::fprintf(stderr, "FAIL %s quantize_act %d n=%d: bytes differ\n", k.name, (int)act, n);
                test::counters().failures++;
            }
        }
    }
}

void test_dequantize(const KernelTable& ref, const KernelTable& k) {
    for (uint32_t type : kTypes) {
        const int n_out = 5, n_in = 544;
        const auto w = random_weight_rows(type, n_out, n_in);
        const size_t rb = (size_t)(n_in / 32) * ggml_type_size(type);
        std::vector<float> want(n_in), got(n_in);
        for (int r = 0; r < n_out; r++) {
            ref.dequantize_row[type](w.data() + r * rb, want.data(), n_in);
            k.dequantize_row[type](w.data() + r * rb, got.data(), n_in);
            test::expect_bits_equal(got.data(), want.data(), n_in,
                                    std::string(k.name) + " dequantize " + ggml_type_name(type));
        }
    }
}

// x16 pack -> unpack_row gives back every row's bytes; padding rows are all zero.
void test_x16_round_trip() {
    for (uint32_t type : kTypes) {
        const uint32_t x16_type = x16::interleaved_type(type);
        if (!x16_type) continue;
        for (int n_out : {1, 15, 16, 17, 67}) {
            const int n_in = 96;
            const size_t rb = (size_t)(n_in / 32) * ggml_type_size(type);
            const auto w = random_weight_rows(type, n_out, n_in);
            std::vector<uint8_t> packed(weight_matrix_bytes(x16_type, n_in, n_out), 0);
            test::expect_true(packed.size() == (size_t)(n_out + 15) / 16 * 16 * rb, "x16 matrix bytes");
            x16::pack(type, w.data(), rb, n_in, n_out, packed.data());
            const std::string what = std::string("x16 round trip ") + ggml_type_name(type) + " n_out=" + std::to_string(n_out);
            std::vector<uint8_t> row(rb), zero(rb, 0);
            for (int r = 0; r < (n_out + 15) / 16 * 16; r++) {
                x16::unpack_row(x16_type, packed.data(), n_in, r, row.data());
                test::expect_bytes_equal(row.data(), r < n_out ? w.data() + r * rb : zero.data(), rb,
                                         what + " row " + std::to_string(r));
            }
        }
    }
}

// Integer codes of weight block b (offset removed) -> qw, its d (and m) -> dw, mw.
void weight_block(uint32_t type, const uint8_t* w, int b, int* qw, double* dw, double* mw) {
    *mw = 0;
    if (type == GGML_Q8_0) {
        const block_q8_0& wb = reinterpret_cast<const block_q8_0*>(w)[b];
        for (int j = 0; j < 32; j++) qw[j] = wb.qs[j];
        *dw = fp16_to_fp32(wb.d);
        return;
    }
    const bool q5 = type == GGML_Q5_0 || type == GGML_Q5_1;
    const size_t bs = ggml_type_size(type);
    const uint8_t* blk = w + b * bs;
    const bool has_min = type == GGML_Q4_1 || type == GGML_Q5_1;
    const uint8_t* qs = blk + bs - 16;  // the 16 nibble bytes end every block
    uint32_t qh = 0;
    if (q5) std::memcpy(&qh, blk + (has_min ? 4 : 2), 4);
    const int off = has_min ? 0 : (q5 ? 16 : 8);
    for (int j = 0; j < 16; j++) {
        qw[j] = (qs[j] & 15) + (q5 ? (int)((qh >> j) & 1) << 4 : 0) - off;
        qw[j + 16] = (qs[j] >> 4) + (q5 ? (int)((qh >> (j + 16)) & 1) << 4 : 0) - off;
    }
    const ggml_half* h = reinterpret_cast<const ggml_half*>(blk);
    *dw = fp16_to_fp32(h[0]);
    if (has_min) *mw = fp16_to_fp32(h[1]);
}

// Sum over blocks of |the float terms a kernel adds up| for one weight row . activation row:
// |dw dx| sum_j |qw_j qx_j| (+ |mw sx| for Q4_1, Q5_1).
double abs_terms(uint32_t type, const uint8_t* w, const uint8_t* x, int nb) {
    double s = 0;
    for (int b = 0; b < nb; b++) {
        int qw[32];
        double dw, mw, dx, extra = 0;
        weight_block(type, w, b, qw, &dw, &mw);
        const int8_t* qx;
        if (type == GGML_Q4_1 || type == GGML_Q5_1) {
            const block_q8_1& xb = reinterpret_cast<const block_q8_1*>(x)[b];
            qx = xb.qs;
            dx = fp16_to_fp32(xb.d);
            extra = std::fabs(mw * (double)fp16_to_fp32(xb.s));
        } else {
            const block_q8_0& xb = reinterpret_cast<const block_q8_0*>(x)[b];
            qx = xb.qs;
            dx = fp16_to_fp32(xb.d);
        }
        long sum = 0;
        for (int j = 0; j < 32; j++) sum += std::abs(qw[j] * qx[j]);
        s += std::fabs(dw * dx) * (double)sum + extra;
    }
    return s;
}

// Matmul bound. Both versions compute each block's integer dot exactly; a block's float terms
// (sumi * (dw * dx), mw * sx) take <= 3 roundings each. The reference sums the nb block terms in
// order (<= nb roundings, each <= u times a partial sum of |terms|); SIMD accumulates 8 lanes
// of partials per block (nb FMAs), Q4_1's m * s terms in a separate lane (nb FMAs, disjoint
// terms), then a 3-level tree and one add. Each is within (nb + 7) u S of the exact sum,
// S = sum of |terms| (abs_terms), so they differ by at most (2 nb + 14) u S; we allow
// (2 nb + 28) u S (relative ~1e-5 at nb = 17: a wrong quant or scale shows far above it).
// The i8mm prompt kernels (n_tok >= 2; kernels/arm/i8mm/legacy.cpp) keep the reference's float
// expression and order per output, so for them the bits must be equal.
void test_matmul(const KernelTable& ref, const KernelTable& k) {
    std::uniform_int_distribution<int> pick(0, 1 << 30);
    for (uint32_t type : kTypes) {
        const ActType act = ref.matmul[type].act;
        if (k.matmul[type].act != act) {
            std::fprintf(stderr, "FAIL %s %s: activation type differs from ref\n", k.name, ggml_type_name(type));
            test::counters().failures++;
            continue;
        }
        for (int n_out : {1, 3, 17, 67}) {
            for (int n_in : {32, 96, 544}) {
                for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33}) {
                    const int nb = n_in / 32;
                    const size_t wrb = (size_t)nb * ggml_type_size(type), xrb = act_row_bytes(act, n_in);
                    const auto w = random_weight_rows(type, n_out, n_in);
                    const auto x = random_activations(n_tok, n_in);
                    const auto xq = quantize_rows(ref, act, x, n_tok, n_in);
                    // A random row range (the whole matrix every other time); ldy > n_out.
                    int row0 = 0, row1 = n_out;
                    if (pick(rng()) % 2) {
                        row0 = pick(rng()) % n_out;
                        row1 = row0 + 1 + pick(rng()) % (n_out - row0);
                    }
                    const size_t ldy = n_out + 2;
                    std::vector<float> want(n_tok * ldy, -7.0f);
                    ref.matmul[type].fn(w.data(), wrb, xq.data(), xrb, want.data(), ldy, n_in, n_tok, row0, row1);
                    const std::string what = std::string(k.name) + " matmul " + ggml_type_name(type) +
                                             " n_out=" + std::to_string(n_out) + " n_in=" + std::to_string(n_in) +
                                             " n_tok=" + std::to_string(n_tok) + " rows [" + std::to_string(row0) +
                                             "," + std::to_string(row1) + ")";
                    // got (from the kernel under test) against want, within the bound.
                    auto check = [&](const std::vector<float>& got, const std::string& what) {
                        for (int t = 0; t < n_tok; t++) {
                            for (size_t r = 0; r < ldy; r++) {
                                const float g = got[t * ldy + r], wv = want[t * ldy + r];
                                if ((int)r < row0 || (int)r >= row1) {  // outside the range: untouched
                                    test::expect_bits_equal(&g, &wv, 1, what + " (outside rows)");
                                    continue;
                                }
                                // i8mm prompt kernels keep the reference's float order: bit-exact.
                                if (std::string(k.name) == "i8mm" && n_tok >= 2 && k.matmul[type].fn != ref.matmul[type].fn) {
                                    test::expect_bits_equal(&g, &wv, 1, what + " (bit-exact)");
                                    continue;
                                }
                                const double S = abs_terms(type, w.data() + r * wrb, xq.data() + t * xrb, nb);
                                test::expect_close(&g, &wv, 1, (2.0 * nb + 28) * kU * S, 0.0, what);
                            }
                        }
                    };
                    std::vector<float> got(n_tok * ldy, -7.0f);
                    k.matmul[type].fn(w.data(), wrb, xq.data(), xrb, got.data(), ldy, n_in, n_tok, row0, row1);
                    check(got, what);
                    // The x16 layout: its reference equals the base reference bit for bit (same
                    // arithmetic per row), this ISA's kernel is within the same bound.
                    const uint32_t x16_type = x16::interleaved_type(type);
                    if (!x16_type) continue;
                    std::vector<uint8_t> packed(weight_matrix_bytes(x16_type, n_in, n_out), 0);
                    x16::pack(type, w.data(), wrb, n_in, n_out, packed.data());
                    std::vector<float> x16_ref(n_tok * ldy, -7.0f), x16_got(n_tok * ldy, -7.0f);
                    ref.matmul[x16_type].fn(packed.data(), wrb, xq.data(), xrb, x16_ref.data(), ldy, n_in, n_tok, row0, row1);
                    test::expect_bits_equal(x16_ref.data(), want.data(), want.size(), "ref x16 " + what);
                    test::expect_true(k.matmul[x16_type].act == act, what + " x16 activation type");
                    k.matmul[x16_type].fn(packed.data(), wrb, xq.data(), xrb, x16_got.data(), ldy, n_in, n_tok, row0, row1);
                    check(x16_got, what + " x16");
                }
            }
        }
    }
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    test_x16_round_trip();
    for (const auto& isa : test::isas_under_test()) {
        const KernelTable& k = kernels_for(isa);
        std::printf("testing %s\n", isa.c_str());
        test_quantize_act(ref, k);
        test_dequantize(ref, k);
        test_matmul(ref, k);
    }
    return test::finish("test_kernels_legacy");
}
