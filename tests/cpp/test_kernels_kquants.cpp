// Q4_K / Q6_K weights with Q8_K activations: every ISA the CPU runs against the scalar reference.
//   quantize_act[ACT_Q8_K]: bytes identical (integer codes, same float ops).
//   dequantize_row: bits identical (same float32 ops in the same order).
//   matmul: within a float bound (see check_matmul), on ragged shapes, row ranges and strides.
//   Q4_Kx16 (kernels/interleave.h): packing round-trips exactly, its reference matmul equals
//   Q4_K's bit for bit, every ISA's kernel is within Q4_K's bound.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/interleave.h"
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

// Offsets of the fp16 super-block scales inside each block (quant_types.h).
struct KType {
    uint32_t type;
    const char* name;
    size_t block_bytes;
    std::vector<size_t> fp16_fields;  // Q4_K: d, dmin; Q6_K: d
};
const KType kTypes[] = {
    {GGML_Q4_K, "Q4_K", sizeof(block_q4_K), {offsetof(block_q4_K, d), offsetof(block_q4_K, dmin)}},
    {GGML_Q6_K, "Q6_K", sizeof(block_q6_K), {offsetof(block_q6_K, d)}},
};

void set_fp16(uint8_t* p, float v) {
    const ggml_half h = fp32_to_fp16(v);
    std::memcpy(p, &h, 2);
}

// n_rows rows of w_row_bytes (>= the blocks' bytes; the rest is padding). Random bytes are valid
// blocks; the fp16 scales are set to moderate random values of either sign (random bits could be
// inf, nan or 6e4).
std::vector<uint8_t> random_weights(const KType& k, int n_rows, int n_in, size_t w_row_bytes) {
    std::vector<uint8_t> w = t::random_bytes(w_row_bytes * n_rows);
    std::uniform_real_distribution<float> mag(1e-3f, 0.1f);
    for (int r = 0; r < n_rows; r++)
        for (int b = 0; b < n_in / QK_K; b++)
            for (size_t f : k.fp16_fields) {
                const float sign = (t::rng()() & 1) ? -1.0f : 1.0f;
                set_fp16(&w[r * w_row_bytes + b * k.block_bytes + f], sign * mag(t::rng()));
            }
    return w;
}

// |w| per element, split into parts so that it bounds every partial sum a kernel forms:
// Q4_K |d sc q| + |dmin m| (dequantize with dmin = 0, then with d = 0: both exact in float32),
// Q6_K |d sc (q - 32)|.
std::vector<float> weight_magnitudes(const KernelTable& ref, const KType& k, const std::vector<uint8_t>& w,
                                     int n_rows, int n_in, size_t w_row_bytes) {
    std::vector<float> mag((size_t)n_rows * n_in, 0.0f), part(n_in);
    for (size_t f : k.fp16_fields) {
        std::vector<uint8_t> only = w;  // keep field f, zero the other fp16 scale fields
        for (int r = 0; r < n_rows; r++)
            for (int b = 0; b < n_in / QK_K; b++)
                for (size_t g : k.fp16_fields)
                    if (g != f) set_fp16(&only[r * w_row_bytes + b * k.block_bytes + g], 0.0f);
        for (int r = 0; r < n_rows; r++) {
            ref.dequantize_row[k.type](&only[r * w_row_bytes], part.data(), n_in);
            for (int i = 0; i < n_in; i++) mag[(size_t)r * n_in + i] += std::fabs(part[i]);
        }
    }
    return mag;
}

// |x| after Q8_K quantization: |d q|.
std::vector<float> q8k_magnitudes(const std::vector<uint8_t>& xq, int n_tok, int n_in, size_t x_row_bytes) {
    std::vector<float> mag((size_t)n_tok * n_in);
    for (int t = 0; t < n_tok; t++) {
        const block_q8_K* x = (const block_q8_K*)&xq[t * x_row_bytes];
        for (int i = 0; i < n_in; i++) mag[(size_t)t * n_in + i] = std::fabs(x[i / QK_K].d * x[i / QK_K].qs[i % QK_K]);
    }
    return mag;
}

void check_quantize(const KernelTable& ref, const KernelTable& isa) {
    for (int n : {256, 768, 1536}) {
        for (int variant = 0; variant < 4; variant++) {
            std::vector<float> x = t::random_floats(n, variant == 3 ? 1e-3f : 1.0f);
            if (variant == 1) std::fill(x.begin(), x.begin() + 256, 0.0f);  // all-zero block: d = 0
            if (variant == 2) { x[5] = -4.0f; x[77] = 4.0f; x[n - 1] = 4.0f; }  // ties in |x|
            const size_t rb = act_row_bytes(ACT_Q8_K, n);
            std::vector<uint8_t> want(rb, 0xAA), got(rb, 0x55);
            ref.quantize_act[ACT_Q8_K](x.data(), want.data(), n);
            isa.quantize_act[ACT_Q8_K](x.data(), got.data(), n);
            expect_bytes_equal(got.data(), want.data(), rb,
                               std::string(isa.name) + " quantize Q8_K n=" + std::to_string(n) + " variant " +
                                   std::to_string(variant));
        }
    }
}

void check_dequantize(const KernelTable& ref, const KernelTable& isa, const KType& k) {
    for (int n : {256, 768, 1536}) {
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

// Both kernels sum each super-block's integer products exactly; the float32 work after that
// (int32 -> float, d_w * d_x, the scaling product, the min term, accumulation over nb blocks and,
// in SIMD code, an 8- or 16-lane horizontal sum: at most nb + 8 rounding steps) errs by at most
// (nb + 8) * eps * M each, M = sum_i |w_i| |x_i| with |w| split into its parts
// (weight_magnitudes), which bounds every partial sum. The two results differ by at most twice
// that; the bound below has another factor 2 of slack.
void check_matmul(const KernelTable& ref, const KernelTable& isa, const KType& k, int n_out, int n_in, int n_tok) {
    const int nb = n_in / QK_K;
    const size_t w_row_bytes = nb * k.block_bytes + 16 * (n_out % 2);  // padded rows sometimes
    const size_t x_row_bytes = act_row_bytes(ACT_Q8_K, n_in) + 64 * (n_tok % 2);
    const size_t ldy = n_out + 3;
    std::vector<uint8_t> w = random_weights(k, n_out, n_in, w_row_bytes);
    std::vector<float> x = t::random_floats((size_t)n_tok * n_in);
    std::vector<uint8_t> xq(x_row_bytes * n_tok);
    for (int i = 0; i < n_tok; i++) ref.quantize_act[ACT_Q8_K](&x[(size_t)i * n_in], &xq[i * x_row_bytes], n_in);

    std::uniform_int_distribution<int> pick(0, n_out);
    int row0 = pick(t::rng()), row1 = pick(t::rng());
    if (row0 > row1) std::swap(row0, row1);
    if (t::rng()() % 2) { row0 = 0; row1 = n_out; }

    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> want(ldy * n_tok, nan), got(ldy * n_tok, nan);
    ref.matmul[k.type].fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, want.data(), ldy, n_in, n_tok, 0, n_out);
    isa.matmul[k.type].fn(w.data(), w_row_bytes, xq.data(), x_row_bytes, got.data(), ldy, n_in, n_tok, row0, row1);

    const std::vector<float> wmag = weight_magnitudes(ref, k, w, n_out, n_in, w_row_bytes);
    const std::vector<float> xmag = q8k_magnitudes(xq, n_tok, n_in, x_row_bytes);
    const double eps = std::ldexp(1.0, -24);
    const std::string what = std::string(isa.name) + " matmul " + k.name + " n_out=" + std::to_string(n_out) +
                             " n_in=" + std::to_string(n_in) + " n_tok=" + std::to_string(n_tok) + " rows [" +
                             std::to_string(row0) + "," + std::to_string(row1) + ")";
    // got (from isa) against want, within the bound; rows outside [row0, row1) untouched.
    auto compare = [&](const std::vector<float>& got, const std::string& what) {
        t::counters().comparisons++;
        for (int ti = 0; ti < n_tok; ti++) {
            for (size_t r = 0; r < ldy; r++) {
                const float g = got[ti * ldy + r], e = want[ti * ldy + r];
                bool ok;
                if ((int)r < row0 || (int)r >= row1) {
                    ok = std::isnan(g);
                } else {
                    double M = 0;
                    for (int i = 0; i < n_in; i++) M += (double)wmag[r * n_in + i] * xmag[(size_t)ti * n_in + i];
                    const double bound = 4.0 * (nb + 8) * eps * M;
                    ok = std::fabs((double)g - (double)e) <= bound;
                }
                if (!ok) {
                    std::fprintf(stderr, "FAIL %s: token %d row %zu: got %.9g want %.9g\n", what.c_str(), ti, r, g, e);
                    t::counters().failures++;
                    return;
                }
            }
        }
    };
    compare(got, what);

    const uint32_t x16_type = x16::interleaved_type(k.type);
    if (!x16_type) return;
    const size_t x16_row_bytes = weight_row_bytes(x16_type, n_in);
    std::vector<uint8_t> packed(weight_matrix_bytes(x16_type, n_in, n_out), 0);
    x16::pack(k.type, w.data(), w_row_bytes, n_in, n_out, packed.data());
    std::vector<uint8_t> row(nb * k.block_bytes);
    for (int r = 0; r < n_out; r++) {  // round trip
        x16::unpack_row(x16_type, packed.data(), n_in, r, row.data());
        if (!expect_bytes_equal(row.data(), &w[r * w_row_bytes], row.size(), what + " x16 round trip")) break;
    }
    std::vector<float> x16_ref(ldy * n_tok, nan), x16_got(ldy * n_tok, nan);
    ref.matmul[x16_type].fn(packed.data(), x16_row_bytes, xq.data(), x_row_bytes, x16_ref.data(), ldy, n_in, n_tok, 0, n_out);
    t::expect_bits_equal(x16_ref.data(), want.data(), want.size(), "ref x16 " + what);
    isa.matmul[x16_type].fn(packed.data(), x16_row_bytes, xq.data(), x_row_bytes, x16_got.data(), ldy, n_in, n_tok, row0, row1);
    compare(x16_got, what + " x16");
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    for (const std::string& name : t::isas_under_test()) {
        const KernelTable& isa = kernels_for(name);
        check_quantize(ref, isa);
        for (const KType& k : kTypes) {
            if (isa.matmul[k.type].act != ACT_Q8_K) {
                std::fprintf(stderr, "FAIL %s: %s matmul does not take Q8_K\n", isa.name, k.name);
                t::counters().failures++;
            }
            check_dequantize(ref, isa, k);
            for (int n_out : {1, 3, 17, 67})
                for (int n_in : {256, 768, 1536})
                    for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33}) check_matmul(ref, isa, k, n_out, n_in, n_tok);
        }
    }
    return t::finish("test_kernels_kquants");
}
