// The FP4 scale decoders of edgeq/quant_types.h (e8m0_to_fp32_half, ue4m3_to_fp32_half) as two
// 256-entry float tables, computed at compile time (constant data: no start-up code, so a SIMD
// file may include this without running its instructions before dispatch). ISA-neutral; the
// kernel tests check every entry against the scalar decoders bit for bit.
#pragma once
#include <cstdint>

namespace edgeq::fp4 {

// 2^k for -149 <= k <= 127, exactly (double holds every such power; the float cast is exact).
constexpr float pow2(int k) {
    double v = 1.0;
    for (; k > 0; k--) v *= 2.0;
    for (; k < 0; k++) v *= 0.5;
    return (float)v;
}

struct ScaleTables {
    float e8m0_half[256];   // 2^(e - 128)
    float ue4m3_half[256];  // see ue4m3_to_fp32_half: 0 for 0x00, 0x7F; bit 7 dropped by the mask
};

constexpr ScaleTables make_scale_tables() {
    ScaleTables t{};
    for (int x = 0; x < 256; x++) {
        t.e8m0_half[x] = pow2(x - 128);
        const int exp = (x >> 3) & 0xF, man = x & 7;
        if (x == 0 || x == 0x7F) t.ue4m3_half[x] = 0.0f;
        else if (exp == 0) t.ue4m3_half[x] = (float)man * pow2(-10);
        else t.ue4m3_half[x] = (float)(8 + man) * pow2(exp - 11);
    }
    return t;
}

inline constexpr ScaleTables kScaleTables = make_scale_tables();

}  // namespace edgeq::fp4
