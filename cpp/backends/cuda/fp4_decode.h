// Decoding the FP4 codes and scales, identically on the host (tests, no device needed) and in
// the kernels (plain C++ when not compiled by nvcc / hipcc). Same numbers as edgeq/quant_types.h:
// value = e2m1_x2(code) * scale_half(scale byte), both exact, so one rounding at most (none
// unless the product leaves the float range), bit-exact with the CPU dequantizers.
#pragma once
#include <cstdint>

#include "edgeq/quant_types.h"

#if defined(__HIPCC__)
#include <hip/hip_fp16.h>
#elif defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

#if defined(__CUDACC__) || defined(__HIPCC__)
#define EDGEQ_HD __host__ __device__ __forceinline__
#else
#define EDGEQ_HD inline
#endif

namespace edgeq::gpu {

EDGEQ_HD float bits_to_float(uint32_t b) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
    return __uint_as_float(b);
#else
    return fp32_from_bits(b);
#endif
}

// An E2M1 code (sign bit 3, exponent bits 2..1, mantissa bit 0) as IEEE half bits: moved to the
// half's sign and to the low exponent bits / top mantissa bit, it is the E2M1 value times 2^-14
// (E2M1's subnormal 0.5 lands on the half subnormal 2^-15; the exponent bias 1 vs 15 is 2^14).
EDGEQ_HD uint16_t e2m1_half_bits(uint32_t code) { return (uint16_t)(((code & 8u) << 12) | ((code & 7u) << 9)); }

// Twice the E2M1 value of a code (ggml's kvalues_fp4 convention): the half value times 2^15.
// "+ 0.0f" turns the code -0 (8) into +0, as kvalues_fp4[8] = 0 (the sign of a zero never changes
// a dot product; the kernels' hot loops skip it).
EDGEQ_HD float e2m1_x2(uint32_t code) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
    return __half2float(__ushort_as_half(e2m1_half_bits(code))) * 32768.0f + 0.0f;
#else
    return fp16_to_fp32(e2m1_half_bits(code)) * 32768.0f + 0.0f;
#endif
}

// Two codes at once: bits 0..3 and 16..19 of w -> (x, y) = their doubled values. The kernels'
// inner loop: one AND/OR/shift group builds a half2, one conversion makes two floats.
struct Float2 {
    float x, y;
};
EDGEQ_HD Float2 e2m1_x2_pair(uint32_t w) {
    const uint32_t h = ((w & 0x00080008u) << 12) | ((w & 0x00070007u) << 9);
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&h));
    return {f.x * 32768.0f + 0.0f, f.y * 32768.0f + 0.0f};
#else
    return {fp16_to_fp32((uint16_t)h) * 32768.0f + 0.0f, fp16_to_fp32((uint16_t)(h >> 16)) * 32768.0f + 0.0f};
#endif
}

// Half the scale of a scale byte (see edgeq/quant_types.h): E8M0 (MXFP4), UE4M3 (NVFP4).
EDGEQ_HD float e8m0_half(uint32_t e) { return bits_to_float(e < 2 ? 0x00200000u << e : (e - 1) << 23); }
EDGEQ_HD float ue4m3_half(uint32_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const uint32_t exp = (x >> 3) & 0xF, man = x & 7;
    if (exp == 0) return (float)man * bits_to_float(117u << 23);          // man * 2^-10
    return (float)(8 + man) * bits_to_float((exp - 11 + 127) << 23);    // (8 + man) 2^(exp - 11)
}

template <bool kNv>
EDGEQ_HD float scale_half(uint32_t byte) {
    return kNv ? ue4m3_half(byte) : e8m0_half(byte);
}

}  // namespace edgeq::gpu
