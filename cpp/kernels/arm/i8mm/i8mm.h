// AArch64 kernels using the int8 matrix multiply extension (SMMLA; ARMv8.2 optional, v8.6
// mandatory), compiled with -march=armv8.2-a+dotprod+i8mm and only selected where the CPU has
// both the dot product and the i8mm extensions (dispatch.cpp: HWCAP_ASIMDDP and HWCAP2_I8MM on
// Linux, FEAT_DotProd and FEAT_I8MM on macOS). The "i8mm" table overlays these on "dotprod".
//
// vmmlaq_s32(acc, a, b): a and b each hold two rows of 8 int8 (bytes 0-7, 8-15), and
// acc lanes [2 i + j] += sum_{k < 8} a[8 i + k] b[8 j + k]: a 2 x 2 block of dot products, so
// two weight rows against two tokens take one instruction per 8 values (SDOT: four).
#pragma once
#include <arm_neon.h>

#include "kernels/kernels.h"

namespace edgeq::i8mm {

void register_legacy(KernelTable& t);
void register_ternary(KernelTable& t);

// Two registers of 16 int8 (rows u and v, values 16 h .. 16 h + 15) -> the SMMLA operands of
// values 16 h + 8 k' .. (k' = 0, 1): {u[0..7], v[0..7]}, {u[8..15], v[8..15]}.
inline void pair_rows(int8x16_t u, int8x16_t v, int8x16_t out[2]) {
    out[0] = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(u), vreinterpretq_s64_s8(v)));
    out[1] = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(u), vreinterpretq_s64_s8(v)));
}

}  // namespace edgeq::i8mm
