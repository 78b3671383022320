// Minimal test harness for kernel tests: random data, comparisons, and a per-ISA loop.
// A test binary that compared nothing fails (see finish()).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace edgeq::test {

struct Counters {
    long comparisons = 0;
    long failures = 0;
};
inline Counters& counters() {
    static Counters c;
    return c;
}

inline std::mt19937& rng() {
    static std::mt19937 g(12345);
    return g;
}
inline std::vector<float> random_floats(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng());
    return v;
}
inline std::vector<uint8_t> random_bytes(size_t n) {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<uint8_t> v(n);
    for (auto& x : v) x = (uint8_t)d(rng());
    return v;
}

// Exact comparison (integer kernels, bit-exact conversions).
inline bool expect_bits_equal(const float* got, const float* want, size_t n, const std::string& what) {
    counters().comparisons++;
    for (size_t i = 0; i < n; i++) {
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            std::fprintf(stderr, "FAIL %s: element %zu: got %.9g want %.9g\n", what.c_str(), i, got[i], want[i]);
            counters().failures++;
            return false;
        }
    }
    return true;
}

// Byte-exact comparison (activation rows, quantized blocks).
inline bool expect_bytes_equal(const uint8_t* got, const uint8_t* want, size_t n, const std::string& what) {
    counters().comparisons++;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            std::fprintf(stderr, "FAIL %s: byte %zu: got %d want %d\n", what.c_str(), i, got[i], want[i]);
            counters().failures++;
            return false;
        }
    }
    return true;
}

// |got - want| <= atol + rtol * |want| elementwise (float-accumulating kernels; the caller's
// comment justifies the bound).
inline bool expect_close(const float* got, const float* want, size_t n, double atol, double rtol,
                         const std::string& what) {
    counters().comparisons++;
    for (size_t i = 0; i < n; i++) {
        const double err = std::fabs((double)got[i] - (double)want[i]);
        if (!(err <= atol + rtol * std::fabs((double)want[i]))) {
            std::fprintf(stderr, "FAIL %s: element %zu: got %.9g want %.9g (err %.3g)\n", what.c_str(), i, got[i],
                         want[i], err);
            counters().failures++;
            return false;
        }
    }
    return true;
}

// The entries of `isa` that are its own code rather than the reference's (the overlays its
// register_* installed, including those inherited from a lower tier), e.g.
// "matmul[TQ2_0 TQ1_0] dequantize_row[] quantize_act[I8_TOKEN] dot_f32 axpy_f32".
inline std::string own_kernels(const KernelTable& isa, const KernelTable& ref) {
    std::string mm, dq, qa;
    for (int ty = 0; ty < kNumGgmlTypes; ty++) {
        if (isa.matmul[ty].fn != ref.matmul[ty].fn) mm += std::string(mm.empty() ? "" : " ") + ggml_type_name(ty);
        if (isa.dequantize_row[ty] != ref.dequantize_row[ty])
            dq += std::string(dq.empty() ? "" : " ") + ggml_type_name(ty);
    }
    for (int a = 0; a < kNumActTypes; a++)
        if (isa.quantize_act[a] != ref.quantize_act[a]) qa += std::string(qa.empty() ? "" : " ") + act_type_name(a);
    std::string out = "matmul[" + mm + "] dequantize_row[" + dq + "] quantize_act[" + qa + "]";
    if (isa.dot_f32 != ref.dot_f32) out += " dot_f32";
    if (isa.axpy_f32 != ref.axpy_f32) out += " axpy_f32";
    return out;
}

// A condition that must hold (for tests that compare structures rather than float arrays).
inline bool expect_true(bool ok, const std::string& what) {
    counters().comparisons++;
    if (!ok) {
        std::fprintf(stderr, "FAIL %s\n", what.c_str());
        counters().failures++;
    }
    return ok;
}

// Every compiled ISA except "ref" that this CPU runs; compiled ones it cannot run are printed
// as skipped, by name. Prints, per ISA under test, the table and which of its kernels are not
// the reference's, so that a log shows what a run exercised (on a CPU model without an ISA's
// extension, the SKIP line shows that tier was not tested).
inline std::vector<std::string> isas_under_test() {
    std::vector<std::string> out;
    const auto runnable = runnable_isas();
    std::string features;
    for (const auto& f : cpu_features()) features += " " + f;
    std::printf("cpu features:%s\n", features.empty() ? " (none detected)" : features.c_str());
    std::string below = "ref";  // the tier this one overlays (tiers are compiled in order)
    for (const auto& isa : compiled_isas()) {
        if (isa == "ref") continue;
        bool ok = false;
        for (const auto& r : runnable) ok |= (r == isa);
        if (ok) {
            out.push_back(isa);
            const KernelTable& t = kernels_for(isa);
            std::printf("ISA %s: table '%s', own kernels: %s\n", isa.c_str(), t.name,
                        own_kernels(t, kernels_for("ref")).c_str());
            if (below != "ref")
                std::printf("ISA %s: replaces over %s: %s\n", isa.c_str(), below.c_str(),
                            own_kernels(t, kernels_for(below)).c_str());
            below = isa;
        } else {
            std::printf("SKIP isa %s: not supported by this CPU\n", isa.c_str());
        }
    }
    return out;
}

// Exit code for main(): failures or zero comparisons fail the binary.
inline int finish(const char* name) {
    const Counters& c = counters();
    std::printf("%s: %ld comparisons, %ld failed\n", name, c.comparisons, c.failures);
    if (c.comparisons == 0) {
        std::printf("%s: FAIL: compared nothing\n", name);
        return 1;
    }
    return c.failures ? 1 : 0;
}

}  // namespace edgeq::test
