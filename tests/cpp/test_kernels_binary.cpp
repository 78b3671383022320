// Q1_0 weights with ACT_Q8_PLANES activations: every ISA the CPU runs against the scalar
// reference, all bit-exact (integer sums per block, then the same float operations in the same
// order; see cpp/kernels/ref/binary.cpp):
//   quantize_act[ACT_Q8_PLANES], dequantize_row[Q1_0]: bytes / bits identical.
//   matmul: bits identical, on ragged shapes (rows not a multiple of any lane count, token counts
//   across the driver's chunk), random row ranges and padded strides.
// Plus the reference against a float transcription of its contract and the activation format
// against its definition (q from the planes = round_half_even(x / d)).
// The same for the opt-in binary-activation kernel (KernelTable::q1_0_binary_act, ACT_B1).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.h"

using namespace edgeq;
namespace t = edgeq::test;

namespace {

// n_rows rows of w_row_bytes (>= the blocks' bytes): random sign bits, d random finite values of
// either sign, some 0 (all-zero blocks), some all-ones / all-zeros bit blocks.
std::vector<uint8_t> random_weights(int n_rows, int n_in, size_t w_row_bytes) {
    std::vector<uint8_t> w = t::random_bytes(w_row_bytes * n_rows);
    std::uniform_real_distribution<float> mag(1e-3f, 2.0f);
    for (int r = 0; r < n_rows; r++)
        for (int b = 0; b < n_in / QK1_0; b++) {
            block_q1_0* blk = (block_q1_0*)&w[r * w_row_bytes + b * sizeof(block_q1_0)];
            const float sign = (t::rng()() & 1) ? -1.0f : 1.0f;
            const float v = t::rng()() % 16 == 0 ? 0.0f : sign * mag(t::rng());
            blk->d = fp32_to_fp16(v);
            if (t::rng()() % 13 == 0) std::memset(blk->qs, t::rng()() % 2 ? 0xFF : 0x00, sizeof(blk->qs));
        }
    return w;
}

// Activations: normal, all zeros, ties at .5 after scaling, +-amax (q = +-127), tiny and huge.
std::vector<float> activations(int n, int variant) {
    std::vector<float> x = t::random_floats(n, variant == 4 ? 1e-7f : variant == 5 ? 1e4f : 1.0f);
    if (variant == 1) std::fill(x.begin(), x.end(), 0.0f);
    if (variant == 2) {  // amax 127 in every block: d = 1, so x / d = x and every k + 0.5 is a tie
        for (int i = 0; i < n; i++) x[i] = std::round(x[i] * 40.0f) / 2.0f;
        for (int b = 0; b < n / QK1_0; b++) x[b * QK1_0 + b % QK1_0] = b % 2 ? 127.0f : -127.0f;
    }
    if (variant == 3) { x[5] = -4.0f; x[n - 1] = 4.0f; }  // ties in |x|; q = -127 and 127
    return x;
}

void check_act_format(const KernelTable& ref) {
    for (int variant = 0; variant < 6; variant++) {
        const int n = 640;
        const std::vector<float> x = activations(n, variant);
        std::vector<block_q8_planes> xq(n / QK1_0);
        ref.quantize_act[ACT_Q8_PLANES](x.data(), xq.data(), n);
        t::counters().comparisons++;
        for (int b = 0; b < n / QK1_0; b++) {
            float amax = 0.0f;
            for (int j = 0; j < QK1_0; j++) amax = std::max(amax, std::fabs(x[b * QK1_0 + j]));
            const float d = amax / 127.0f;
            int sum = 0, bad = 0;
            for (int j = 0; j < QK1_0; j++) {
                int v = 0;
                for (int p = 0; p < 8; p++) v |= ((xq[b].planes[p][j / 8] >> (j % 8)) & 1) << p;
                const int q = (int8_t)v;
                const int want = d != 0.0f ? (int)std::nearbyint(x[b * QK1_0 + j] / d) : 0;
                bad += q != want || q < -127 || q > 127;
                sum += q;
            }
            if (bad || sum != xq[b].sum || std::memcmp(&d, &xq[b].d, 4) != 0) {
                std::fprintf(stderr, "FAIL act format variant %d block %d: %d bad values\n", variant, b, bad);
                t::counters().failures++;
                return;
            }
        }
    }
}

// ACT_B1: d = (sum |x| left to right in float) / 128, bit j set iff x[j] >= 0 (so -0.0 sets it).
void check_b1_format(const KernelTable& ref) {
    for (int variant = 0; variant < 6; variant++) {
        const int n = 640;
        std::vector<float> x = activations(n, variant);
        x[7] = -0.0f;
        std::vector<block_b1> xq(n / QK1_0);
        ref.quantize_act[ACT_B1](x.data(), xq.data(), n);
        t::counters().comparisons++;
        for (int b = 0; b < n / QK1_0; b++) {
            float sum = 0.0f;
            int bad = 0;
            for (int j = 0; j < QK1_0; j++) {
                sum += std::fabs(x[b * QK1_0 + j]);
                bad += ((xq[b].bits[j / 8] >> (j % 8)) & 1) != (x[b * QK1_0 + j] >= 0.0f);
            }
            const float d = sum / 128.0f;
            if (bad || std::memcmp(&d, &xq[b].d, 4) != 0) {
                std::fprintf(stderr, "FAIL B1 format variant %d block %d: %d bad bits\n", variant, b, bad);
                t::counters().failures++;
                return;
            }
        }
    }
}

void check_quantize(const KernelTable& ref, const KernelTable& isa, ActType act, const char* name) {
    for (int n : {128, 640, 2048, 6912}) {
        for (int variant = 0; variant < 6; variant++) {
            const std::vector<float> x = activations(n, variant);
            const size_t rb = act_row_bytes(act, n);
            std::vector<uint8_t> want(rb, 0xAA), got(rb, 0x55);
            ref.quantize_act[act](x.data(), want.data(), n);
            isa.quantize_act[act](x.data(), got.data(), n);
            t::expect_bytes_equal(got.data(), want.data(), rb,
                               std::string(isa.name) + " quantize " + name + " n=" + std::to_string(n) + " variant " +
                                   std::to_string(variant));
        }
    }
}

// The kernel under test: int8 activations (matmul[Q1_0]) or the binary ones.
const MatmulKernel& q1_kernel(const KernelTable& t, bool binary) {
    return binary ? t.q1_0_binary_act : t.matmul[GGML_Q1_0];
}

void check_dequantize(const KernelTable& ref, const KernelTable& isa) {
    for (int n : {128, 640, 2048}) {
        const size_t rb = n / QK1_0 * sizeof(block_q1_0);
        std::vector<uint8_t> w = random_weights(3, n, rb);
        std::vector<float> want(n), got(n);
        for (int r = 0; r < 3; r++) {
            ref.dequantize_row[GGML_Q1_0](&w[r * rb], want.data(), n);
            isa.dequantize_row[GGML_Q1_0](&w[r * rb], got.data(), n);
            t::expect_bits_equal(got.data(), want.data(), n, std::string(isa.name) + " dequantize Q1_0 n=" + std::to_string(n));
        }
    }
}

void check_matmul(const KernelTable& ref, const KernelTable& isa, bool binary, int n_out, int n_in, int n_tok) {
    const int nb = n_in / QK1_0;
    const ActType act = binary ? ACT_B1 : ACT_Q8_PLANES;
    // Padded rows sometimes; the padding keeps the blocks' 2-byte alignment (their fp16 d), as GGUF rows do.
    const size_t w_row_bytes = nb * sizeof(block_q1_0) + 6 * (n_out % 2);
    const size_t x_row_bytes = act_row_bytes(act, n_in) + 8 * (n_tok % 2);
    const size_t ldy = n_out + 3;
    std::vector<uint8_t> w = random_weights(n_out, n_in, w_row_bytes);
    std::vector<uint8_t> xq(x_row_bytes * n_tok);
    for (int i = 0; i < n_tok; i++) {
        const std::vector<float> x = activations(n_in, i % 7 == 6 ? 1 : i % 6);
        ref.quantize_act[act](x.data(), &xq[i * x_row_bytes], n_in);
    }
    std::uniform_int_distribution<int> pick(0, n_out);
    int row0 = pick(t::rng()), row1 = pick(t::rng());
    if (row0 > row1) std::swap(row0, row1);
    if (t::rng()() % 2) { row0 = 0; row1 = n_out; }

    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> want(ldy * n_tok, nan), got(ldy * n_tok, nan);
    q1_kernel(ref, binary).fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, want.data(), ldy, n_in, n_tok, row0, row1);
    q1_kernel(isa, binary).fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, got.data(), ldy, n_in, n_tok, row0, row1);
    // NaN outside [row0, row1) in both: memcmp of the bits also checks that nothing else was written.
    t::expect_bits_equal(got.data(), want.data(), got.size(),
                         std::string(isa.name) + (binary ? " matmul Q1_0 x B1" : " matmul Q1_0") + " n_out=" + std::to_string(n_out) + " n_in=" +
                             std::to_string(n_in) + " n_tok=" + std::to_string(n_tok) + " rows [" +
                             std::to_string(row0) + "," + std::to_string(row1) + ")");
}

// The reference against a direct transcription of its contract with floats, so that a wrong
// reference cannot pass by agreeing with itself: isum = sum (w / d_w) q with w from
// dequantize_row (exactly +-d_w) and q = round_half_even(x / d_x) recomputed from x.
void check_ref_contract(const KernelTable& ref) {
    const int n_in = 640, n_out = 5, nb = n_in / QK1_0;
    const size_t rb = nb * sizeof(block_q1_0);
    std::vector<uint8_t> w = random_weights(n_out, n_in, rb);
    const std::vector<float> x = activations(n_in, 0);
    std::vector<block_q8_planes> xq(nb);
    ref.quantize_act[ACT_Q8_PLANES](x.data(), xq.data(), n_in);
    std::vector<float> y(n_out), want(n_out), wf(n_in);
    ref.matmul[GGML_Q1_0].fn(w.data(), rb, xq.data(), 0, y.data(), n_out, n_in, 1, 0, n_out);
    for (int r = 0; r < n_out; r++) {
        ref.dequantize_row[GGML_Q1_0](&w[r * rb], wf.data(), n_in);
        float acc = 0.0f;
        for (int b = 0; b < nb; b++) {
            const float dw = fp16_to_fp32(((const block_q1_0*)&w[r * rb])[b].d);
            float amax = 0.0f;
            for (int i = b * QK1_0; i < (b + 1) * QK1_0; i++) amax = std::max(amax, std::fabs(x[i]));
            const float dx = amax / 127.0f;
            int32_t isum = 0;
            if (dw != 0.0f)
                for (int i = b * QK1_0; i < (b + 1) * QK1_0; i++) isum += (int32_t)(wf[i] / dw) * (int)std::nearbyint(x[i] / dx);
            else  // d = 0 stores +-0: the sign bits still count
                for (int i = b * QK1_0; i < (b + 1) * QK1_0; i++)
                    isum += (std::signbit(wf[i]) ? -1 : 1) * (int)std::nearbyint(x[i] / dx);
            acc = std::fmaf(dw * dx, (float)isum, acc);
        }
        want[r] = acc;
    }
    t::expect_bits_equal(y.data(), want.data(), n_out, "ref matmul contract Q1_0");
}

// Binary activations: isum = sum sign(w) sign(x) from the dequantized weights and the raw x.
void check_ref_contract_b1(const KernelTable& ref) {
    const int n_in = 640, n_out = 5, nb = n_in / QK1_0;
    const size_t rb = nb * sizeof(block_q1_0);
    std::vector<uint8_t> w = random_weights(n_out, n_in, rb);
    const std::vector<float> x = activations(n_in, 0);
    std::vector<block_b1> xq(nb);
    ref.quantize_act[ACT_B1](x.data(), xq.data(), n_in);
    std::vector<float> y(n_out), want(n_out), wf(n_in);
    ref.q1_0_binary_act.fn(w.data(), rb, xq.data(), 0, y.data(), n_out, n_in, 1, 0, n_out);
    for (int r = 0; r < n_out; r++) {
        ref.dequantize_row[GGML_Q1_0](&w[r * rb], wf.data(), n_in);
        float acc = 0.0f;
        for (int b = 0; b < nb; b++) {
            const float dw = fp16_to_fp32(((const block_q1_0*)&w[r * rb])[b].d);
            float sum = 0.0f;
            int isum = 0;
            for (int i = b * QK1_0; i < (b + 1) * QK1_0; i++) {
                sum += std::fabs(x[i]);
                const int sw = dw != 0.0f ? (int)(wf[i] / dw) : (std::signbit(wf[i]) ? -1 : 1);  // d may be < 0
                isum += sw * (x[i] >= 0.0f ? 1 : -1);
            }
            acc = std::fmaf(dw * (sum / 128.0f), (float)isum, acc);
        }
        want[r] = acc;
    }
    t::expect_bits_equal(y.data(), want.data(), n_out, "ref matmul contract Q1_0 x B1");
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    check_act_format(ref);
    check_ref_contract(ref);
    check_b1_format(ref);
    check_ref_contract_b1(ref);
    for (const std::string& name : t::isas_under_test()) {
        const KernelTable& isa = kernels_for(name);
        if (isa.matmul[GGML_Q1_0].act != ACT_Q8_PLANES || isa.q1_0_binary_act.act != ACT_B1) {
            std::fprintf(stderr, "FAIL %s: Q1_0 kernels do not take ACT_Q8_PLANES / ACT_B1\n", isa.name);
            t::counters().failures++;
        }
        check_quantize(ref, isa, ACT_Q8_PLANES, "Q8_PLANES");
        check_quantize(ref, isa, ACT_B1, "B1");
        check_dequantize(ref, isa);
        for (bool binary : {false, true})
            for (int n_out : {1, 3, 9, 17, 33, 67})
                for (int n_in : {128, 640, 2048})
                    for (int n_tok : {1, 2, 3, 5, 8, 17, 65, 130}) check_matmul(ref, isa, binary, n_out, n_in, n_tok);
    }
    return t::finish("test_kernels_binary");
}
