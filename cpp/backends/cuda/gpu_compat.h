// A thin layer that lets the CUDA sources build with HIP (ROCm) too: the runtime calls and types
// edgeq uses, under gpu* names. CUDA is the default; -DEDGEQ_HIP (with hipcc) maps to HIP.
// The tensor-core pieces differ more than names: see fp4_kernels.cu (WMMA: nvcuda::wmma vs
// rocWMMA; the Blackwell block-scaled FP4 MMA is CUDA-only). Untested on ROCm: see README.
#pragma once

// hipcc for AMD GPUs defines __HIP_PLATFORM_AMD__: the HIP mapping then needs no extra flag.
#if defined(__HIP_PLATFORM_AMD__) && !defined(EDGEQ_HIP)
#define EDGEQ_HIP 1
#endif

#if defined(EDGEQ_HIP)
#include <hip/hip_bf16.h>
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#define gpuError_t hipError_t
#define gpuSuccess hipSuccess
#define gpuGetErrorString hipGetErrorString
#define gpuGetLastError hipGetLastError
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuGetDevice hipGetDevice
#define gpuDeviceProp hipDeviceProp_t
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuMemset hipMemset
#define gpuMemGetInfo hipMemGetInfo
#define gpuDeviceSynchronize hipDeviceSynchronize
#define gpuEvent_t hipEvent_t
#define gpuEventCreate hipEventCreate
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuEventDestroy hipEventDestroy
#define gpuFuncAttributes hipFuncAttributes
#define gpuFuncGetAttributes hipFuncGetAttributes
#define gpuRuntimeGetVersion hipRuntimeGetVersion
#define gpuDriverGetVersion hipDriverGetVersion
typedef __hip_bfloat16 gpu_bf16;
typedef __half gpu_half;
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define gpuError_t cudaError_t
#define gpuSuccess cudaSuccess
#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDevice cudaGetDevice
#define gpuDeviceProp cudaDeviceProp
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuMemset cudaMemset
#define gpuMemGetInfo cudaMemGetInfo
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define gpuEvent_t cudaEvent_t
#define gpuEventCreate cudaEventCreate
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuEventDestroy cudaEventDestroy
#define gpuFuncAttributes cudaFuncAttributes
#define gpuFuncGetAttributes cudaFuncGetAttributes
#define gpuRuntimeGetVersion cudaRuntimeGetVersion
#define gpuDriverGetVersion cudaDriverGetVersion
typedef __nv_bfloat16 gpu_bf16;
typedef __half gpu_half;
#endif

// Lanes per warp the kernels are written for, the same on host (launch sizes) and device: 32 on
// NVIDIA and RDNA; AMD CDNA (MI300, MI355X) runs wavefronts of 64: build with -DEDGEQ_HIP_WAVE64.
#if defined(EDGEQ_HIP) && defined(EDGEQ_HIP_WAVE64)
constexpr int kGpuWarp = 64;
#else
constexpr int kGpuWarp = 32;
#endif

// Butterfly exchange across the whole warp / wavefront.
#if defined(EDGEQ_HIP)
#define EDGEQ_SHFL_XOR(v, o) __shfl_xor((v), (o))
#else
#define EDGEQ_SHFL_XOR(v, o) __shfl_xor_sync(0xffffffffu, (v), (o))
#endif
