// Sums across a warp (wavefront) and across a block, for the kernels (device code only).
#pragma once
#include "backends/cuda/gpu_compat.h"

namespace edgeq::gpu {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = kGpuWarp / 2; o > 0; o /= 2) v += EDGEQ_SHFL_XOR(v, o);
    return v;
}

// The sum of v over the block (blockDim.x a multiple of the warp size, at most 32 warps), returned
// to every thread. Uses 33 floats of shared memory; ends with a barrier, so it may be called again.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[33];
    const int lane = threadIdx.x % kGpuWarp, warp = threadIdx.x / kGpuWarp, n_warps = blockDim.x / kGpuWarp;
    v = warp_sum(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < n_warps ? part[lane] : 0.0f;
        s = warp_sum(s);
        if (lane == 0) part[32] = s;
    }
    __syncthreads();
    const float total = part[32];
    __syncthreads();
    return total;
}

}  // namespace edgeq::gpu
