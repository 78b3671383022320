// The CUDA backend's host-side logic, which runs without a GPU, and its kernels when one exists:
//   * the kernels' FP4 decoders (fp4_decode.h, run here on the host) equal edgeq/quant_types.h's
//     for every code and every scale byte, bit for bit;
//   * the GPU layout (fp4_layout.h) of random GGUF rows decodes to the CPU reference dequantizer's
//     values, bit for bit; malformed inputs are refused with a message;
//   * the path choice (fp4_kernels.h: choose_path) for each device generation;
//   * the fp4mma activation quantizer (the kernel's code, run on the host): scale rule and
//     nearest-E2M1 codes, checked by brute force;
//   * with a usable device: cuda_matmul on every path against float64 sums of the same numbers.
// Built only with EDGEQ_CUDA=ON.
#include <cmath>
#include <stdexcept>

#include "../cpp/test_util.h"
#include "backends/backend.h"
#include "backends/cuda/fp4_decode.h"
#include "backends/cuda/fp4_kernels.h"
#include "backends/cuda/fp4_layout.h"

using namespace edgeq;
using test::rng;

namespace {

void fail(const std::string& what) {
    std::fprintf(stderr, "FAIL %s\n", what.c_str());
    test::counters().failures++;
}
void expect(bool ok, const std::string& what) {
    test::counters().comparisons++;
    if (!ok) fail(what);
}
bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

void test_decoders() {
    int bad = 0;
    for (uint32_t c = 0; c < 16; c++) bad += !same_bits(gpu::e2m1_x2(c), (float)kvalues_fp4[c]);
    for (uint32_t lo = 0; lo < 16; lo++)
        for (uint32_t hi = 0; hi < 16; hi++) {
            const gpu::Float2 p = gpu::e2m1_x2_pair(lo | hi << 16 | 0xFFF0FFF0u);  // other bits ignored
            bad += !same_bits(p.x, (float)kvalues_fp4[lo]) || !same_bits(p.y, (float)kvalues_fp4[hi]);
        }
    for (uint32_t b = 0; b < 256; b++) {
        bad += !same_bits(gpu::e8m0_half(b), e8m0_to_fp32_half((uint8_t)b));
        bad += !same_bits(gpu::ue4m3_half(b), ue4m3_to_fp32_half((uint8_t)b));
    }
    expect(bad == 0, "fp4_decode.h vs quant_types.h: " + std::to_string(bad) + " mismatches");
}

std::vector<uint8_t> random_rows(uint32_t type, int n_out, int n_in) {
    return test::random_bytes((size_t)n_out * (n_in / ggml_block_size(type)) * ggml_type_size(type));
}

void test_layout() {
    const KernelTable& ref = kernels_for("ref");
    for (uint32_t type : {GGML_MXFP4, GGML_NVFP4}) {
        const int n_out = 7, n_in = 320;
        const auto w = random_rows(type, n_out, n_in);
        const gpu::Fp4Layout L = gpu::fp4_layout_from_gguf(type, w.data(), w.size(), n_out, n_in);
        const size_t rb = w.size() / n_out;
        std::vector<float> want(n_in);
        int bad = 0;
        for (int r = 0; r < n_out; r++) {
            ref.dequantize_row[type](w.data() + r * rb, want.data(), n_in);
            for (int k = 0; k < n_in; k++) bad += !same_bits(gpu::fp4_layout_value(L, r, k), want[k]);
        }
        expect(bad == 0, std::string("GPU layout vs CPU dequantize ") + ggml_type_name(type) + ": " +
                             std::to_string(bad) + " mismatches");
        expect(L.group == (type == GGML_MXFP4 ? 32 : 16) && L.codes.size() == (size_t)n_out * n_in / 2,
               "layout sizes");
    }
    auto refused = [](auto&& fn, const std::string& needle, const std::string& what) {
        try {
            fn();
            fail(what + ": no exception");
        } catch (const std::invalid_argument& e) {
            expect(std::string(e.what()).find(needle) != std::string::npos, what + ": message '" + e.what() + "'");
        }
    };
    std::vector<uint8_t> w(36 * 2);
    refused([&] { gpu::fp4_layout_from_gguf(GGML_Q4_0, w.data(), w.size(), 1, 64); }, "MXFP4 or NVFP4", "wrong type");
    refused([&] { gpu::fp4_layout_from_gguf(GGML_NVFP4, w.data(), w.size(), 1, 96); }, "multiple of 64", "ragged row");
    refused([&] { gpu::fp4_layout_from_gguf(GGML_NVFP4, w.data(), w.size() - 1, 1, 128); }, "do not match",
            "short data");
}

void test_choose_path() {
    using gpu::MatmulPath;
    using gpu::choose_path;
    expect(choose_path(MatmulPath::Auto, 1, 9, 0, false, false) == MatmulPath::Gemv, "decode -> gemv");
    expect(choose_path(MatmulPath::Auto, 8, 12, 0, true, true) == MatmulPath::Gemv, "8 tokens -> gemv");
    expect(choose_path(MatmulPath::Auto, 64, 9, 0, false, false) == MatmulPath::Wmma, "H100 prefill -> wmma");
    expect(choose_path(MatmulPath::Auto, 64, 10, 0, false, true) == MatmulPath::Wmma, "B200 prefill -> wmma");
    expect(choose_path(MatmulPath::Auto, 64, 12, 0, true, false) == MatmulPath::Wmma, "sm_120, W4A4 not allowed");
    expect(choose_path(MatmulPath::Auto, 64, 12, 0, true, true) == MatmulPath::Fp4Mma, "sm_120, W4A4 allowed");
    expect(choose_path(MatmulPath::Auto, 64, 7, 5, false, false) == MatmulPath::Gemv, "Turing -> gemv");
    bool threw = false;
    try {
        choose_path(MatmulPath::Fp4Mma, 64, 9, 0, false, true);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    expect(threw, "fp4mma on sm_90 refused");
    expect(gpu::parse_path("wmma") == MatmulPath::Wmma && gpu::parse_path("auto") == MatmulPath::Auto, "parse_path");
}

// E2M1 magnitudes, for the brute-force nearest-code check.
const float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

void test_act_quantizer() {
    for (uint32_t type : {GGML_MXFP4, GGML_NVFP4}) {
        const int G = type == GGML_MXFP4 ? 32 : 16, n = 512;
        auto x = test::random_floats(n, 3.0f);
        for (int i = 0; i < G; i++) x[i] = 0.0f;        // an all-zero group
        x[G] = 1e-30f;                                  // a tiny one
        std::vector<uint8_t> codes(n / 2), scales(n / G);
        gpu::quantize_act_fp4_host(type, x.data(), n, codes.data(), scales.data());
        int bad = 0;
        for (int g = 0; g < n / G; g++) {
            float amax = 0;
            for (int i = 0; i < G; i++) amax = std::fmax(amax, std::fabs(x[g * G + i]));
            const float scale = type == GGML_MXFP4 ? 2.0f * gpu::e8m0_half(scales[g]) : 2.0f * gpu::ue4m3_half(scales[g]);
            if (type == GGML_MXFP4) {  // the smallest power of two >= amax / 6
                bad += amax > 0 && !(scale >= amax / 6.0f && scale * 0.5f < amax / 6.0f);
            } else {  // the UE4M3 byte nearest to amax / 6
                float best = INFINITY;
                for (uint32_t b = 0; b < 0x7F; b++) best = std::fmin(best, std::fabs(2.0f * gpu::ue4m3_half(b) - amax / 6.0f));
                bad += std::fabs(scale - amax / 6.0f) != best;
            }
            for (int i = 0; i < G; i++) {  // the code is a nearest E2M1 value of x / scale (saturating)
                const int k = g * G + i;
                const uint32_t c = (codes[k / 2] >> (4 * (k % 2))) & 15;
                const float got = gpu::e2m1_x2(c) * 0.5f, v = scale > 0 ? x[k] / scale : 0.0f;
                float best = INFINITY;
                for (float m : kE2M1) best = std::fmin(best, std::fabs(std::copysign(m, v) - v));
                bad += std::fabs(got - v) > best * (1 + 1e-6f) + 1e-30f;
            }
        }
        expect(bad == 0, std::string("fp4mma activation quantizer ") + ggml_type_name(type) + ": " +
                             std::to_string(bad) + " wrong groups / codes");
    }
}

// ---- Device tests ----------------------------------------------------------------------------
void test_device() {
    if (!cuda_available()) {
        std::printf("SKIP device tests: %s\n", cuda_status().c_str());
        bool threw = false;
        try {
            std::vector<float> x(64);
            std::vector<uint8_t> w(36);
            cuda_matmul(GGML_NVFP4, w.data(), w.size(), 1, 64, x.data(), 1);
        } catch (const std::runtime_error& e) {
            threw = std::string(e.what()).rfind("CUDA not available: ", 0) == 0;
        }
        expect(threw, "cuda_matmul without a device: 'CUDA not available: ...'");
        return;
    }
    std::printf("device: %s\n", cuda_status().c_str());
    const KernelTable& ref = kernels_for("ref");
    for (uint32_t type : {GGML_MXFP4, GGML_NVFP4}) {
        for (int n_tok : {1, 3, 8, 9, 70}) {
            const int n_out = 131, n_in = 1024;
            auto xf = test::random_floats((size_t)n_out * n_in, 0.05f);
            std::vector<uint8_t> w((size_t)n_out * (n_in / ggml_block_size(type)) * ggml_type_size(type));
            const size_t rb = w.size() / n_out;
            for (int r = 0; r < n_out; r++) ref.quantize_row[type](xf.data() + (size_t)r * n_in, w.data() + r * rb, n_in);
            const auto x = test::random_floats((size_t)n_tok * n_in, 1.0f);
            std::vector<float> wd((size_t)n_out * n_in);
            for (int r = 0; r < n_out; r++) ref.dequantize_row[type](w.data() + r * rb, wd.data() + (size_t)r * n_in, n_in);
            for (const char* path : {"gemv", "wmma", "fp4mma"}) {
                if (std::string(path) == "fp4mma" && cuda_status().find("fp4mma") == std::string::npos) continue;
                std::vector<float> xq = x;  // fp4mma: the activations as the kernel quantizes them
                if (std::string(path) == "fp4mma") {
                    const int G = type == GGML_MXFP4 ? 32 : 16;
                    std::vector<uint8_t> c(n_in / 2), s(n_in / G);
                    for (int t = 0; t < n_tok; t++) {
                        gpu::quantize_act_fp4_host(type, x.data() + (size_t)t * n_in, n_in, c.data(), s.data());
                        for (int k = 0; k < n_in; k++) {
                            const float sc = type == GGML_MXFP4 ? gpu::e8m0_half(s[k / G]) : gpu::ue4m3_half(s[k / G]);
                            xq[(size_t)t * n_in + k] = gpu::e2m1_x2((c[k / 2] >> (4 * (k % 2))) & 15) * sc;
                        }
                    }
                }
                const auto y = cuda_matmul(type, w.data(), w.size(), n_out, n_in, x.data(), n_tok, path);
                // Bound: float accumulation of n_in terms, (n_in + 16) u S; wmma also rounds the
                // activations to bf16 (2^-9 relative each): + 2^-8 S.
                const double rel = (n_in + 16) * 0x1p-24 + (std::string(path) == "wmma" ? 0x1p-8 : 0.0);
                int bad = 0;
                for (int t = 0; t < n_tok; t++)
                    for (int r = 0; r < n_out; r++) {
                        double want = 0, S = 0;
                        for (int k = 0; k < n_in; k++) {
                            const double p = (double)wd[(size_t)r * n_in + k] * xq[(size_t)t * n_in + k];
                            want += p;
                            S += std::fabs(p);
                        }
                        bad += !(std::fabs(y[(size_t)t * n_out + r] - want) <= rel * S + 1e-30);
                    }
                expect(bad == 0, std::string("cuda_matmul ") + path + " " + ggml_type_name(type) + " n_tok=" +
                                     std::to_string(n_tok) + ": " + std::to_string(bad) + " outputs out of bound");
            }
        }
    }
}

}  // namespace

int main() {
    test_decoders();
    test_layout();
    test_choose_path();
    test_act_quantizer();
    test_device();
    return test::finish("test_cuda_host");
}
