// ISA dispatch: which tables a CPU gets, and the errors for ISAs it cannot have.
//   runnable ⊆ compiled, "ref" always; on AArch64 "neon" is baseline, "dotprod" is runnable
//   exactly when the CPU reports the dot product extension (HWCAP_ASIMDDP), and "i8mm" exactly
//   when it reports both dotprod and i8mm (HWCAP2_I8MM).
//   kernels_for(an ISA not compiled / not supported) and EDGEQ_ISA naming one throw a one-line
//   std::runtime_error that names the ISA (and, when unsupported, what it needs).
#include <cstdlib>
#include <stdexcept>

#include "test_util.h"

using namespace edgeq;
namespace t = edgeq::test;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
        if (x == s) return true;
    return false;
}

void expect(bool ok, const std::string& what) {
    t::counters().comparisons++;
    if (!ok) {
        std::fprintf(stderr, "FAIL %s\n", what.c_str());
        t::counters().failures++;
    }
}

// f() must throw std::runtime_error whose message contains every string of `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts, const std::string& what) {
    try {
        f();
        expect(false, what + ": no exception");
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        std::printf("  %s -> \"%s\"\n", what.c_str(), msg.c_str());
        bool ok = msg.find('\n') == std::string::npos;
        for (const auto& p : parts) ok &= msg.find(p) != std::string::npos;
        expect(ok, what + ": message \"" + msg + "\"");
    }
}

}  // namespace

int main() {
    const auto compiled = compiled_isas(), runnable = runnable_isas(), features = cpu_features();
    std::string line;
    for (const auto& s : compiled) line += " " + s + (contains(runnable, s) ? "" : "(not runnable)");
    std::printf("compiled ISAs:%s\n", line.c_str());
    t::isas_under_test();  // prints the features and each runnable table's own kernels

    expect(!compiled.empty() && compiled.front() == "ref", "ref is compiled first");
    expect(contains(runnable, "ref"), "ref is runnable");
    for (const auto& s : runnable) {
        expect(contains(compiled, s), s + " runnable but not compiled");
        expect(kernels_for(s).name == s, s + " table is named " + kernels_for(s).name);
    }
#if defined(__aarch64__)
    expect(contains(compiled, "neon") && contains(runnable, "neon"), "neon is compiled and runnable on AArch64");
    expect(contains(runnable, "dotprod") == contains(features, "dotprod"),
           "dotprod runnable exactly when the CPU has the dotprod feature");
    expect(contains(compiled, "i8mm"), "i8mm is compiled on AArch64");
    expect(contains(runnable, "i8mm") == (contains(features, "dotprod") && contains(features, "i8mm")),
           "i8mm runnable exactly when the CPU has the dotprod and i8mm features");
#endif

    expect_error([] { kernels_for("no-such-isa"); }, {"no-such-isa", "not compiled"}, "kernels_for(no-such-isa)");
    for (const auto& s : compiled)
        if (!contains(runnable, s))
            expect_error([&] { kernels_for(s); }, {s, "not supported by this CPU", "needs"}, "kernels_for(" + s + ")");

    // EDGEQ_ISA: an unusable value throws (kernels() stays uninitialised), then a usable one is taken.
    std::string bad = "no-such-isa";
    for (const auto& s : compiled)
        if (!contains(runnable, s)) bad = s;
    setenv("EDGEQ_ISA", bad.c_str(), 1);
    expect_error([] { kernels(); }, {"EDGEQ_ISA=" + bad, bad}, "EDGEQ_ISA=" + bad);
    setenv("EDGEQ_ISA", runnable.front().c_str(), 1);
    expect(kernels().name == runnable.front(), "EDGEQ_ISA=" + runnable.front() + " is used");
    std::printf("EDGEQ_ISA=%s selects table '%s'\n", runnable.front().c_str(), kernels().name);
    return t::finish("test_dispatch");
}
