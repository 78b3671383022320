// FP4 kernels (MXFP4, NVFP4 weights; Q8_0 activations) of every ISA this CPU runs, against the
// scalar reference, and the reference against independent integer arithmetic:
//   * the compile-time scale tables equal the scalar decoders for all 256 bytes (bit-exact);
//   * dequantization bit-exact on every ISA, on random bytes (every code and scale byte);
//   * quantize(dequantize(w)) == w for blocks whose largest code is +-4 or +-6 (the scale is
//     then re-derived exactly) and without the code -0;
//   * matmul with unit scales (e = 128, UE4M3 0x40, activation d = 1): every partial sum is an
//     integer below 2^24, so every ISA must equal sum_j kv(q_j) x_j computed in int64, bit for bit;
//   * matmul with random scales within a float-summation bound (as in test_kernels_legacy).
#include <algorithm>
#include <cmath>

#include "kernels/fp4_tables.h"
#include "test_util.h"

using namespace edgeq;
using test::rng;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // float32 unit roundoff
const uint32_t kTypes[] = {GGML_MXFP4, GGML_NVFP4};

size_t row_bytes(uint32_t type, int n) { return (size_t)(n / ggml_block_size(type)) * ggml_type_size(type); }

// Value k of a weight row: its code (0..15) and half scale.
struct Elem {
    int code;
    float scale;
};
Elem element(uint32_t type, const uint8_t* row, int k) {
    if (type == GGML_MXFP4) {
        const block_mxfp4& b = reinterpret_cast<const block_mxfp4*>(row)[k / 32];
        const int j = k % 32;
        return {j < 16 ? b.qs[j] & 15 : b.qs[j - 16] >> 4, e8m0_to_fp32_half(b.e)};
    }
    const block_nvfp4& b = reinterpret_cast<const block_nvfp4*>(row)[k / 64];
    const int s = (k % 64) / 16, j = k % 16;
    return {j < 8 ? b.qs[8 * s + j] & 15 : b.qs[8 * s + j - 8] >> 4, ue4m3_to_fp32_half(b.d[s])};
}

// Random weight rows: random codes; scale bytes random in a range that keeps products finite
// (or all 256 values when any_scale: dequantization only).
std::vector<uint8_t> random_rows(uint32_t type, int n_out, int n_in, bool any_scale = false) {
    std::vector<uint8_t> w = test::random_bytes(row_bytes(type, n_in) * n_out);
    std::uniform_int_distribution<int> e8(110, 135), e4(1, 0x7E);
    const size_t bs = ggml_type_size(type), nblk = w.size() / bs;
    if (!any_scale)
        for (size_t i = 0; i < nblk; i++) {
            uint8_t* b = w.data() + i * bs;
            if (type == GGML_MXFP4) b[0] = (uint8_t)e8(rng());
            else for (int s = 0; s < 4; s++) b[s] = (uint8_t)e4(rng());
        }
    return w;
}

void test_scale_tables() {
    int bad = 0;
    for (int x = 0; x < 256; x++) {
        const float a = e8m0_to_fp32_half((uint8_t)x), b = ue4m3_to_fp32_half((uint8_t)x);
        bad += std::memcmp(&a, &fp4::kScaleTables.e8m0_half[x], 4) != 0;
        bad += std::memcmp(&b, &fp4::kScaleTables.ue4m3_half[x], 4) != 0;
    }
    // Spot values from the formats' definitions.
    bad += e8m0_to_fp32_half(127) != 0.5f || e8m0_to_fp32_half(0) != std::ldexp(1.0f, -128);
    bad += ue4m3_to_fp32_half(0x40) != 1.0f || ue4m3_to_fp32_half(0x7E) != 224.0f ||
           ue4m3_to_fp32_half(0x01) != std::ldexp(1.0f, -10) || ue4m3_to_fp32_half(0x7F) != 0.0f;
    test::counters().comparisons++;
    if (bad) {
        std::fprintf(stderr, "FAIL fp4 scale tables: %d mismatches\n", bad);
        test::counters().failures++;
    }
}

void test_dequantize(const KernelTable& ref, const KernelTable& k) {
    for (uint32_t type : kTypes) {
        const int n_out = 9, n_in = 576;
        const auto w = random_rows(type, n_out, n_in, /*any_scale=*/true);
        const size_t rb = row_bytes(type, n_in);
        std::vector<float> want(n_in), got(n_in), spec(n_in);
        for (int r = 0; r < n_out; r++) {
            const uint8_t* row = w.data() + r * rb;
            ref.dequantize_row[type](row, want.data(), n_in);
            k.dequantize_row[type](row, got.data(), n_in);
            for (int j = 0; j < n_in; j++) {
                const Elem e = element(type, row, j);
                spec[j] = (float)kvalues_fp4[e.code] * e.scale;
            }
            const std::string name = std::string(k.name) + " dequantize " + ggml_type_name(type);
            test::expect_bits_equal(want.data(), spec.data(), n_in, "ref dequantize vs element()");
            test::expect_bits_equal(got.data(), want.data(), n_in, name);
        }
    }
}

void test_quantize_round_trip(const KernelTable& ref) {
    // UE4M3 bytes 0x78..0x7E (256..448) do not round-trip: ggml's fp32_to_ue4m3 saturates that
    // whole binade to 0x7E.
    std::uniform_int_distribution<int> code(0, 15), top(0, 3), e8(100, 150), e4(1, 0x77);
    for (uint32_t type : kTypes) {
        const int n = 640, bs = ggml_block_size(type), group = type == GGML_MXFP4 ? 32 : 16;
        std::vector<uint8_t> w(row_bytes(type, n));
        for (int b = 0; b < n / bs; b++) {
            uint8_t* blk = w.data() + b * ggml_type_size(type);
            uint8_t* qs = blk + (type == GGML_MXFP4 ? 1 : 4);
            if (type == GGML_MXFP4) blk[0] = (uint8_t)e8(rng());
            else for (int s = 0; s < 4; s++) blk[s] = (uint8_t)e4(rng());
            for (int j = 0; j < bs / 2; j++) {
                int lo = code(rng()), hi = code(rng());
                if (lo == 8) lo = 0;  // -0 re-quantizes to +0
                if (hi == 8) hi = 0;
                qs[j] = (uint8_t)(lo | hi << 4);
            }
            // One code per scale group (its first value) with magnitude 4 or 6 (codes 6, 7, 14, 15)
            // and the others below it, so amax determines the same scale byte again. MXFP4: the
            // group's largest value must be 4 or 6 times the scale (see quantize_row_mxfp4).
            // NVFP4: amax / 6 must round back to the same UE4M3 byte: only the code 6 (= 6.0) works.
            for (int g = 0; g < bs / group; g++) {
                uint8_t* first = qs + g * group / 2;
                static const int kBig[4] = {6, 7, 14, 15};  // +-4, +-6 (doubled: +-8, +-12)
                const int big = type == GGML_MXFP4 ? kBig[top(rng())] : kBig[1 + 2 * (top(rng()) & 1)];
                *first = (uint8_t)((*first & 0xF0) | big);
                for (int j = 0; j < group; j++) {  // cap the others below the big one
                    uint8_t& byte = first[j % (group / 2)];
                    const bool high = j >= group / 2;
                    if (j == 0) continue;
                    int c = high ? byte >> 4 : byte & 15;
                    if (std::abs(kvalues_fp4[c]) >= std::abs(kvalues_fp4[big])) c = 0;
                    byte = high ? (uint8_t)((byte & 0x0F) | c << 4) : (uint8_t)((byte & 0xF0) | c);
                }
            }
        }
        std::vector<float> x(n);
        ref.dequantize_row[type](w.data(), x.data(), n);
        std::vector<uint8_t> back(w.size());
        ref.quantize_row[type](x.data(), back.data(), n);
        test::counters().comparisons++;
        if (back != w) {
            size_t i = 0;
            while (back[i] == w[i]) i++;
            std::fprintf(stderr, "FAIL quantize round trip %s: byte %zu: got %d want %d\n", ggml_type_name(type), i,
                         back[i], w[i]);
            test::counters().failures++;
        }
    }
}

// Q8_0 activation rows straight from int8 values with d = 1 (fp16 0x3C00).
std::vector<uint8_t> unit_q8_rows(const std::vector<int8_t>& q, int n_tok, int n) {
    std::vector<uint8_t> out(act_row_bytes(ACT_Q8_0, n) * n_tok);
    block_q8_0* b = reinterpret_cast<block_q8_0*>(out.data());
    for (int i = 0; i < n_tok * n / 32; i++) {
        b[i].d = 0x3C00;
        std::memcpy(b[i].qs, q.data() + 32 * i, 32);
    }
    return out;
}

void test_matmul_unit_scales(const std::vector<const KernelTable*>& tables) {
    std::uniform_int_distribution<int> q8(-127, 127);
    for (uint32_t type : kTypes) {
        for (int n_in : {64, 192, 4096}) {
            const int n_out = 13, n_tok = 6;
            auto w = random_rows(type, n_out, n_in);
            const size_t bs = ggml_type_size(type);
            for (size_t i = 0; i < w.size() / bs; i++) {
                if (type == GGML_MXFP4) w[i * bs] = 128;  // half scale 1
                else std::memset(&w[i * bs], 0x40, 4);    // half scale 1
            }
            std::vector<int8_t> xq((size_t)n_tok * n_in);
            for (auto& v : xq) v = (int8_t)q8(rng());
            const auto X = unit_q8_rows(xq, n_tok, n_in);
            const size_t rb = row_bytes(type, n_in), xb = act_row_bytes(ACT_Q8_0, n_in);
            std::vector<float> want((size_t)n_tok * n_out);
            for (int t = 0; t < n_tok; t++)
                for (int r = 0; r < n_out; r++) {
                    long long s = 0;
                    for (int j = 0; j < n_in; j++) s += kvalues_fp4[element(type, w.data() + r * rb, j).code] * xq[(size_t)t * n_in + j];
                    want[(size_t)t * n_out + r] = (float)s;
                }
            for (const KernelTable* k : tables) {
                std::vector<float> got(want.size(), -7.0f);
                k->matmul[type].fn(w.data(), rb, X.data(), xb, got.data(), n_out, n_in, n_tok, 0, n_out);
                test::expect_bits_equal(got.data(), want.data(), got.size(),
                                        std::string(k->name) + " unit-scale matmul " + ggml_type_name(type) +
                                            " n_in=" + std::to_string(n_in));
            }
        }
    }
}

// Sum over blocks of |the float terms a kernel adds up| for one weight row . activation row.
double abs_terms(uint32_t type, const uint8_t* w, const uint8_t* x, int n_in) {
    const block_q8_0* xb = reinterpret_cast<const block_q8_0*>(x);
    double s = 0;
    for (int j = 0; j < n_in; j++) {
        const Elem e = element(type, w, j);
        s += std::fabs((double)kvalues_fp4[e.code] * e.scale * xb[j / 32].qs[j % 32] * fp16_to_fp32(xb[j / 32].d));
    }
    return s;
}

// Bound as in test_kernels_legacy: integer block dots are exact, each block term takes <= 2
// roundings (scale product exact here, times the int sum), the reference adds nt terms in order
// (nt = n_in / 32 for MXFP4, n_in / 16 for NVFP4), SIMD accumulates 8 lanes over n_in / 32 FMAs
// then a 3-level tree: both within (nt + 8) u S of the exact sum, so (2 nt + 28) u S covers it.
void test_matmul(const KernelTable& ref, const KernelTable& k) {
    std::uniform_int_distribution<int> pick(0, 1 << 30);
    for (uint32_t type : kTypes) {
        if (k.matmul[type].act != ACT_Q8_0 || ref.matmul[type].act != ACT_Q8_0) {
            std::fprintf(stderr, "FAIL %s %s: activation type is not Q8_0\n", k.name, ggml_type_name(type));
            test::counters().failures++;
            continue;
        }
        for (int n_out : {1, 3, 17, 67}) {
            for (int n_in : {64, 192, 576}) {
                for (int n_tok : {1, 2, 3, 4, 5, 7, 9, 16, 33}) {
                    const size_t wrb = row_bytes(type, n_in), xrb = act_row_bytes(ACT_Q8_0, n_in);
                    const auto w = random_rows(type, n_out, n_in);
                    const auto x = test::random_floats((size_t)n_tok * n_in, 2.0f);
                    std::vector<uint8_t> xq(xrb * n_tok);
                    for (int t = 0; t < n_tok; t++) ref.quantize_act[ACT_Q8_0](x.data() + (size_t)t * n_in, xq.data() + t * xrb, n_in);
                    int row0 = 0, row1 = n_out;
                    if (pick(rng()) % 2) {
                        row0 = pick(rng()) % n_out;
                        row1 = row0 + 1 + pick(rng()) % (n_out - row0);
                    }
                    const size_t ldy = n_out + 2;
                    std::vector<float> want(n_tok * ldy, -7.0f), got(n_tok * ldy, -7.0f);
                    ref.matmul[type].fn(w.data(), wrb, xq.data(), xrb, want.data(), ldy, n_in, n_tok, row0, row1);
                    k.matmul[type].fn(w.data(), wrb, xq.data(), xrb, got.data(), ldy, n_in, n_tok, row0, row1);
                    const std::string what = std::string(k.name) + " matmul " + ggml_type_name(type) + " n_out=" +
                                             std::to_string(n_out) + " n_in=" + std::to_string(n_in) + " n_tok=" +
                                             std::to_string(n_tok) + " rows [" + std::to_string(row0) + "," +
                                             std::to_string(row1) + ")";
                    const int nt = n_in / (type == GGML_MXFP4 ? 32 : 16);
                    for (int t = 0; t < n_tok; t++)
                        for (size_t r = 0; r < ldy; r++) {
                            const float g = got[t * ldy + r], wv = want[t * ldy + r];
                            if ((int)r < row0 || (int)r >= row1) {
                                test::expect_bits_equal(&g, &wv, 1, what + " (outside rows)");
                                continue;
                            }
                            const double S = abs_terms(type, w.data() + r * wrb, xq.data() + t * xrb, n_in);
                            test::expect_close(&g, &wv, 1, (2.0 * nt + 28) * kU * S, 0.0, what);
                        }
                }
            }
        }
    }
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    test_scale_tables();
    test_quantize_round_trip(ref);
    std::vector<const KernelTable*> all{&ref};
    for (const auto& isa : test::isas_under_test()) {
        const KernelTable& k = kernels_for(isa);
        std::printf("testing %s\n", isa.c_str());
        test_dequantize(ref, k);
        test_matmul(ref, k);
        all.push_back(&k);
    }
    test_dequantize(ref, ref);  // ref against element() (and itself)
    test_matmul_unit_scales(all);
    return test::finish("test_kernels_fp4");
}
