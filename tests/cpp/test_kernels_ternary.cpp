// TQ2_0 / TQ1_0 weights with ACT_I8_TOKEN activations: every ISA the CPU runs against the scalar
// reference, all bit-exact (integer sums per block, then the same float operations in the same
// order; see cpp/kernels/ref/ternary.cpp):
//   quantize_act[ACT_I8_TOKEN]: bytes identical (padding included).
//   dequantize_row: bits identical.
//   matmul: bits identical, on ragged shapes, random row ranges and padded strides.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.h"

using namespace edgeq;
namespace t = edgeq::test;

namespace {

bool expect_bytes_equal(const uint8_t* got, const uint8_t* want, size_t n, const std::string& what) {
    t::counters().comparisons++;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            std::fprintf(stderr, "FAIL %s: byte %zu: got %d want %d\n", what.c_str(), i, got[i], want[i]);
            t::counters().failures++;
            return false;
        }
    }
    return true;
}

struct TType {
    uint32_t type;
    const char* name;
    size_t block_bytes;
    size_t d_offset;  // the fp16 block scale
};
const TType kTypes[] = {
    {GGML_TQ2_0, "TQ2_0", sizeof(block_tq2_0), offsetof(block_tq2_0, d)},
    {GGML_TQ1_0, "TQ1_0", sizeof(block_tq1_0), offsetof(block_tq1_0, d)},
};

// n_rows rows of w_row_bytes (>= the blocks' bytes). Random bytes are valid blocks (a TQ2_0 code 3
// decodes to +2, which the kernels must handle like the reference); d is set to random finite
// values of either sign, some of them 0 (all-zero blocks in real models).
std::vector<uint8_t> random_weights(const TType& k, int n_rows, int n_in, size_t w_row_bytes) {
    std::vector<uint8_t> w = t::random_bytes(w_row_bytes * n_rows);
    std::uniform_real_distribution<float> mag(1e-3f, 2.0f);
    for (int r = 0; r < n_rows; r++)
        for (int b = 0; b < n_in / QK_K; b++) {
            const float sign = (t::rng()() & 1) ? -1.0f : 1.0f;
            const float v = t::rng()() % 16 == 0 ? 0.0f : sign * mag(t::rng());
            const ggml_half h = fp32_to_fp16(v);
            std::memcpy(&w[r * w_row_bytes + b * k.block_bytes + k.d_offset], &h, 2);
        }
    return w;
}

// Activations with the cases quantization must agree on: ties at .5 after scaling, values past
// the clamp, all zeros (s from the 1e-5 floor), tiny and huge magnitudes.
std::vector<float> activations(int n, int variant) {
    std::vector<float> x = t::random_floats(n, variant == 4 ? 1e-7f : variant == 5 ? 1e4f : 1.0f);
    if (variant == 1) std::fill(x.begin(), x.end(), 0.0f);
    if (variant == 2) {  // max 127: s = 1, so x * s = x and every k + 0.5 is a tie
        for (int i = 0; i < n; i++) x[i] = std::round(x[i] * 40.0f) / 2.0f;
        x[n / 3] = 127.0f;
        x[n / 2] = -127.0f;
    }
    if (variant == 3) { x[5] = -4.0f; x[n - 1] = 4.0f; }  // ties in |x|; q = -127 and 127
    return x;
}

void check_quantize(const KernelTable& ref, const KernelTable& isa) {
    for (int n : {256, 768, 2560, 6912}) {
        for (int variant = 0; variant < 6; variant++) {
            const std::vector<float> x = activations(n, variant);
            const size_t rb = act_row_bytes(ACT_I8_TOKEN, n);
            std::vector<uint8_t> want(rb, 0xAA), got(rb, 0x55);
            ref.quantize_act[ACT_I8_TOKEN](x.data(), want.data(), n);
            isa.quantize_act[ACT_I8_TOKEN](x.data(), got.data(), n);
            expect_bytes_equal(got.data(), want.data(), rb,
                               std::string(isa.name) + " quantize I8_TOKEN n=" + std::to_string(n) + " variant " +
                                   std::to_string(variant));
        }
    }
}

void check_dequantize(const KernelTable& ref, const KernelTable& isa, const TType& k) {
    for (int n : {256, 768, 2560}) {
        const size_t rb = n / QK_K * k.block_bytes;
        std::vector<uint8_t> w = random_weights(k, 3, n, rb);
        std::vector<float> want(n), got(n);
        for (int r = 0; r < 3; r++) {
            ref.dequantize_row[k.type](&w[r * rb], want.data(), n);
            isa.dequantize_row[k.type](&w[r * rb], got.data(), n);
            t::expect_bits_equal(got.data(), want.data(), n,
                                 std::string(isa.name) + " dequantize " + k.name + " n=" + std::to_string(n));
        }
    }
}

void check_matmul(const KernelTable& ref, const KernelTable& isa, const TType& k, int n_out, int n_in, int n_tok) {
    const int nb = n_in / QK_K;
    const size_t w_row_bytes = nb * k.block_bytes + 16 * (n_out % 2);  // padded rows sometimes
    const size_t x_row_bytes = act_row_bytes(ACT_I8_TOKEN, n_in) + 64 * (n_tok % 2);
    const size_t ldy = n_out + 3;
    std::vector<uint8_t> w = random_weights(k, n_out, n_in, w_row_bytes);
    std::vector<uint8_t> xq(x_row_bytes * n_tok);
    for (int i = 0; i < n_tok; i++) {
        const std::vector<float> x = activations(n_in, i % 7 == 6 ? 1 : i % 4);
        ref.quantize_act[ACT_I8_TOKEN](x.data(), &xq[i * x_row_bytes], n_in);
    }

    std::uniform_int_distribution<int> pick(0, n_out);
    int row0 = pick(t::rng()), row1 = pick(t::rng());
    if (row0 > row1) std::swap(row0, row1);
    if (t::rng()() % 2) { row0 = 0; row1 = n_out; }

    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> want(ldy * n_tok, nan), got(ldy * n_tok, nan);
    ref.matmul[k.type].fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, want.data(), ldy, n_in, n_tok, row0, row1);
    isa.matmul[k.type].fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, got.data(), ldy, n_in, n_tok, row0, row1);
    // NaN outside [row0, row1) in both: memcmp of the bits also checks that nothing else was written.
    t::expect_bits_equal(got.data(), want.data(), got.size(),
                         std::string(isa.name) + " matmul " + k.name + " n_out=" + std::to_string(n_out) +
                             " n_in=" + std::to_string(n_in) + " n_tok=" + std::to_string(n_tok) + " rows [" +
                             std::to_string(row0) + "," + std::to_string(row1) + ")");
}

// The reference against a direct transcription of its contract, so that a wrong reference
// cannot pass by agreeing with itself: y = (sum_b fma d_b * sum (w_k / d_b) q_k) / s with w from
// dequantize_row (exact: d * (c - 1)).
void check_ref_contract(const KernelTable& ref, const TType& k) {
    const int n_in = 768, n_out = 5, nb = n_in / QK_K;
    const size_t rb = nb * k.block_bytes;
    std::vector<uint8_t> w = random_weights(k, n_out, n_in, rb);
    const std::vector<float> x = activations(n_in, 0);
    std::vector<uint8_t> xq(act_row_bytes(ACT_I8_TOKEN, n_in));
    ref.quantize_act[ACT_I8_TOKEN](x.data(), xq.data(), n_in);
    float s;
    std::memcpy(&s, &xq[n_in], 4);
    std::vector<float> y(n_out), want(n_out), wf(n_in);
    ref.matmul[k.type].fn(w.data(), rb, xq.data(), xq.size(), y.data(), n_out, n_in, 1, 0, n_out);
    for (int r = 0; r < n_out; r++) {
        ref.dequantize_row[k.type](&w[r * rb], wf.data(), n_in);
        float acc = 0.0f;
        for (int b = 0; b < nb; b++) {
            ggml_half h;
            std::memcpy(&h, &w[r * rb + b * k.block_bytes + k.d_offset], 2);
            const float d = fp16_to_fp32(h);
            int32_t isum = 0;
            if (d != 0.0f)
                for (int i = b * QK_K; i < (b + 1) * QK_K; i++) isum += (int32_t)(wf[i] / d) * (int8_t)xq[i];
            acc = std::fmaf(d, (float)isum, acc);
        }
        want[r] = acc / s;
    }
    t::expect_bits_equal(y.data(), want.data(), n_out, std::string("ref matmul contract ") + k.name);
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    for (const TType& k : kTypes) check_ref_contract(ref, k);
    for (const std::string& name : t::isas_under_test()) {
        const KernelTable& isa = kernels_for(name);
        check_quantize(ref, isa);
        for (const TType& k : kTypes) {
            if (isa.matmul[k.type].act != ACT_I8_TOKEN) {
                std::fprintf(stderr, "FAIL %s: %s matmul does not take ACT_I8_TOKEN\n", isa.name, k.name);
                t::counters().failures++;
            }
            check_dequantize(ref, isa, k);
            for (int n_out : {1, 3, 17, 67})
                for (int n_in : {256, 768, 2560})
                    for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33}) check_matmul(ref, isa, k, n_out, n_in, n_tok);
        }
    }
    return t::finish("test_kernels_ternary");
}
