#include <algorithm>

#include "kernels/x86/avx512/avx512.h"

namespace edgeq {
void register_avx512(KernelTable& t) {
    avx512::register_float(t);
    avx512::register_legacy(t);
    avx512::register_interleaved(t);
    avx512::register_kquants(t);
    avx512::register_ternary(t);
    avx512::register_ternary_lut(t);
    // BITALG / VPOPCNTDQ are not part of the avx512 tier's baseline: without them Q1_0 keeps the
    // AVX2 kernel.
    const auto f = cpu_features();
    auto has = [&](const char* name) { return std::find(f.begin(), f.end(), name) != f.end(); };
    if (has("avx512bitalg") && has("avx512vpopcntdq")) avx512::register_binary(t);
    if (has("avx512vbmi")) avx512::register_ternary_lut_dword(t);
}
}  // namespace edgeq
