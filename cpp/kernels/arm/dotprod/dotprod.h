// AArch64 kernels using the dot product extension (SDOT; ARMv8.2 optional, v8.4 mandatory),
// compiled with -march=armv8.2-a+dotprod and only selected where HWCAP_ASIMDDP is set. The
// "dotprod" table overlays these on the "neon" table.
#pragma once
#include <arm_neon.h>

#include "kernels/kernels.h"

namespace edgeq::dotprod {

void register_legacy(KernelTable& t);
void register_kquants(KernelTable& t);
void register_ternary(KernelTable& t);

// The int8 dot product primitives of the shared ARM kernels (interface in neon/neon.h), with SDOT:
// lane i += sum_{j < 4} a[4 i + j] b[4 i + j], exact in int32 for any int8 operands. Internal
// linkage: the i8mm tier's files include it too, under their own -march flags.
namespace {
struct Dot {
    static inline int32x4_t dot_sum(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

    using Quads = int32x4_t;
    static constexpr int kMaxQuadSteps = 1 << 16;  // int32 lanes: no practical limit
    static inline Quads quads_zero() { return vdupq_n_s32(0); }
    static inline void quads_step(Quads& q, int8x16_t codes, int8x16_t x4) { q = vdotq_s32(q, codes, x4); }
    static inline int32x4_t quads_total(const Quads& q) { return q; }
};
}  // namespace

}  // namespace edgeq::dotprod
