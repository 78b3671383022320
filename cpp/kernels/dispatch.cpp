// CPU feature detection and the choice of one KernelTable per process.
// x86: cpuid + xgetbv (the OS must save the YMM / ZMM state, not only the CPU support it).
// aarch64 Linux: getauxval(AT_HWCAP / AT_HWCAP2); aarch64 macOS: sysctlbyname("hw.optional.arm.FEAT_*")
// (untested: no macOS machine here). EDGEQ_ISA=ref|avx2|avx512|neon|dotprod|i8mm overrides.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define EDGEQ_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#define EDGEQ_ARM64_LINUX 1
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#define EDGEQ_ARM64_APPLE 1
#endif

namespace edgeq {

namespace {

struct Features {
    bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512bw = false,
         avx512vl = false, avx512dq = false, avx512vnni = false, avx512vbmi = false,
         avx512vpopcntdq = false, avx512bitalg = false, avxvnni = false;
    bool neon = false, dotprod = false, i8mm = false, sve = false;
};

#ifdef EDGEQ_X86
uint64_t xgetbv0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

#ifdef EDGEQ_ARM64_APPLE
// A hw.optional.arm.FEAT_* flag (macOS 12+): 1 when the CPU has the feature, 0 or absent otherwise.
bool apple_feature(const char* name) {
    int v = 0;
    size_t size = sizeof v;
    return sysctlbyname(name, &v, &size, nullptr, 0) == 0 && v == 1;
}
#endif

Features detect() {
    Features f;
#ifdef EDGEQ_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & (1u << 27);
    const bool fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool os_ymm = (xcr0 & 0x6) == 0x6;
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;
    if (__get_cpuid_max(0, nullptr) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned ebx7 = b, ecx7 = c;
    __cpuid_count(7, 1, a, b, c, d);
    const unsigned eax7_1 = a;
    if (avx && os_ymm) {
        f.fma = fma;
        f.f16c = f16c;
        f.avx2 = (ebx7 & (1u << 5)) && fma && f16c;
        f.avxvnni = eax7_1 & (1u << 4);
    }
    if (os_zmm && f.avx2) {
        f.avx512f = ebx7 & (1u << 16);
        f.avx512dq = ebx7 & (1u << 17);
        f.avx512bw = ebx7 & (1u << 30);
        f.avx512vl = ebx7 & (1u << 31);
        f.avx512vbmi = ecx7 & (1u << 1);
        f.avx512vnni = ecx7 & (1u << 11);
        f.avx512bitalg = ecx7 & (1u << 12);
        f.avx512vpopcntdq = ecx7 & (1u << 14);
    }
#endif
#ifdef EDGEQ_ARM64_LINUX
    const unsigned long hw = getauxval(AT_HWCAP);
    const unsigned long hw2 = getauxval(AT_HWCAP2);
    f.neon = hw & HWCAP_ASIMD;
    f.dotprod = hw & HWCAP_ASIMDDP;
    f.sve = hw & HWCAP_SVE;
#ifdef HWCAP2_I8MM
    f.i8mm = hw2 & HWCAP2_I8MM;
#else
    (void)hw2;  // headers older than Linux 5.10: i8mm stays undetected, the tier unused
#endif
#elif defined(EDGEQ_ARM64_APPLE)
    // Apple M-series: NEON always, dot product from M1, i8mm from M2; no SVE.
    f.neon = true;
    f.dotprod = apple_feature("hw.optional.arm.FEAT_DotProd");
    f.i8mm = apple_feature("hw.optional.arm.FEAT_I8MM");
#elif defined(__aarch64__)
    f.neon = true;  // NEON is mandatory on AArch64
#endif
    return f;
}

const Features& features() {
    static const Features f = detect();
    return f;
}

// Can this CPU run the code compiled for `isa`? The avx512 tier is compiled with
// F/BW/VL/DQ/VNNI (Ice Lake / Zen 4 and later; Cascade Lake has these too).
bool cpu_can_run(const std::string& isa) {
    const Features& f = features();
    if (isa == "ref") return true;
    if (isa == "avx2") return f.avx2;
    if (isa == "avx512") return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
    if (isa == "neon") return f.neon;
    if (isa == "dotprod") return f.neon && f.dotprod;
    if (isa == "i8mm") return f.neon && f.dotprod && f.i8mm;
    return false;
}

// What the CPU lacks for `isa`, for the error message (cpu_can_run(isa) is false).
std::string missing_for(const std::string& isa) {
    if (isa == "avx2") return "AVX2 + FMA + F16C with OS support for the YMM state";
    if (isa == "avx512") return "AVX-512 F/BW/VL/DQ/VNNI with OS support for the ZMM state";
    if (isa == "neon") return "AArch64 ASIMD (HWCAP_ASIMD)";
    if (isa == "dotprod") return "the ARMv8.2 dot product extension SDOT/UDOT (HWCAP_ASIMDDP)";
    if (isa == "i8mm") return "the dot product (HWCAP_ASIMDDP) and int8 matrix multiply SMMLA (HWCAP2_I8MM) extensions";
    return "an unknown ISA";
}

KernelTable build_table(const std::string& isa) {
    KernelTable t;
    register_ref(t);
    t.name = "ref";
#ifdef EDGEQ_HAVE_AVX2
    if (isa == "avx2" || isa == "avx512") { register_avx2(t); t.name = "avx2"; }
#endif
#ifdef EDGEQ_HAVE_AVX512
    if (isa == "avx512") { register_avx512(t); t.name = "avx512"; }
#endif
#ifdef EDGEQ_HAVE_NEON
    if (isa == "neon" || isa == "dotprod" || isa == "i8mm") { register_neon(t); t.name = "neon"; }
#endif
#ifdef EDGEQ_HAVE_DOTPROD
    if (isa == "dotprod" || isa == "i8mm") { register_dotprod(t); t.name = "dotprod"; }
#endif
#ifdef EDGEQ_HAVE_I8MM
    if (isa == "i8mm") { register_i8mm(t); t.name = "i8mm"; }
#endif
    return t;
}

}  // namespace

std::vector<std::string> compiled_isas() {
    std::vector<std::string> v{"ref"};
#ifdef EDGEQ_HAVE_AVX2
    v.push_back("avx2");
#endif
#ifdef EDGEQ_HAVE_AVX512
    v.push_back("avx512");
#endif
#ifdef EDGEQ_HAVE_NEON
    v.push_back("neon");
#endif
#ifdef EDGEQ_HAVE_DOTPROD
    v.push_back("dotprod");
#endif
#ifdef EDGEQ_HAVE_I8MM
    v.push_back("i8mm");
#endif
    return v;
}

std::vector<std::string> runnable_isas() {
    std::vector<std::string> v;
    for (const auto& isa : compiled_isas())
        if (cpu_can_run(isa)) v.push_back(isa);
    return v;
}

const KernelTable& kernels_for(const std::string& isa) {
    static std::mutex mu;
    static std::map<std::string, KernelTable> tables;
    std::lock_guard<std::mutex> lock(mu);
    auto it = tables.find(isa);
    if (it != tables.end()) return it->second;
    bool compiled = false;
    for (const auto& c : compiled_isas()) compiled |= (c == isa);
    if (!compiled) {
        std::string all;
        for (const auto& c : compiled_isas()) all += (all.empty() ? "" : ", ") + c;
        throw std::runtime_error("ISA '" + isa + "' is not compiled into this build (available: " + all + ")");
    }
    if (!cpu_can_run(isa))
        throw std::runtime_error("ISA '" + isa + "' is not supported by this CPU: it needs " + missing_for(isa));
    return tables.emplace(isa, build_table(isa)).first->second;
}

const KernelTable& kernels() {
    static const KernelTable* chosen = [] {
        const char* env = std::getenv("EDGEQ_ISA");
        if (env && *env) {
            try {
                return &kernels_for(env);
            } catch (const std::runtime_error& e) {
                throw std::runtime_error(std::string("EDGEQ_ISA=") + env + ": " + e.what());
            }
        }
        return &kernels_for(runnable_isas().back());
    }();
    return *chosen;
}

std::vector<std::string> cpu_features() {
    const Features& f = features();
    std::vector<std::string> v;
    auto add = [&](bool on, const char* n) { if (on) v.push_back(n); };
    add(f.avx2, "avx2"); add(f.fma, "fma"); add(f.f16c, "f16c"); add(f.avxvnni, "avxvnni");
    add(f.avx512f, "avx512f"); add(f.avx512bw, "avx512bw"); add(f.avx512vl, "avx512vl");
    add(f.avx512dq, "avx512dq"); add(f.avx512vnni, "avx512vnni"); add(f.avx512vbmi, "avx512vbmi");
    add(f.avx512vpopcntdq, "avx512vpopcntdq"); add(f.avx512bitalg, "avx512bitalg");
    add(f.neon, "neon"); add(f.dotprod, "dotprod"); add(f.i8mm, "i8mm"); add(f.sve, "sve");
    return v;
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0 ||
            line.rfind("CPU part", 0) == 0) {
            auto p = line.find(':');
            if (p != std::string::npos) return line.substr(p + 2);
        }
    }
    return "unknown";
}

}  // namespace edgeq
