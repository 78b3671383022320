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
// as skipped, by name.
inline std::vector<std::string> isas_under_test() {
    std::vector<std::string> out;
    const auto runnable = runnable_isas();
    for (const auto& isa : compiled_isas()) {
        if (isa == "ref") continue;
        bool ok = false;
        for (const auto& r : runnable) ok |= (r == isa);
        if (ok) out.push_back(isa);
        else std::printf("SKIP isa %s: not supported by this CPU\n", isa.c_str());
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
