#include "backends/cuda/f16_kernels.h"

#include <stdexcept>
#include <string>

#include "backends/cuda/gpu_compat.h"
#include "backends/cuda/gpu_runtime.h"
#include "backends/cuda/warp_reduce.cuh"

namespace edgeq::gpu {

namespace {

// ---- GEMV ------------------------------------------------------------------------------------
// Block: 4 warps, one weight row each. Lane j reads 8-half chunks j, j + 32, ... (16 bytes) and
// the 8 matching floats of each token; rows whose length is not a multiple of 8 (F16 / F32 files
// may have any width) go through the scalar tail loop only.
constexpr int kGemvWarps = 4, kGemvMaxTok = 8;

template <int NT>
__global__ void __launch_bounds__(kGemvWarps * kGpuWarp) gemv_f16(const gpu_half* __restrict__ W,
                                                                  const float* __restrict__ X,
                                                                  float* __restrict__ Y, int n_out, int n_in) {
    const int warp = threadIdx.x / kGpuWarp, lane = threadIdx.x % kGpuWarp;
    const int row = blockIdx.x * kGemvWarps + warp;
    if (row >= n_out) return;
    const gpu_half* w = W + (size_t)row * n_in;
    const int n8 = n_in % 8 == 0 ? n_in / 8 : 0;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;
    for (int c = lane; c < n8; c += kGpuWarp) {
        const uint4 q = __ldg(reinterpret_cast<const uint4*>(w) + c);
        const __half2* h = reinterpret_cast<const __half2*>(&q);
        const float2 f0 = __half22float2(h[0]), f1 = __half22float2(h[1]), f2 = __half22float2(h[2]),
                     f3 = __half22float2(h[3]);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const float4* x4 = reinterpret_cast<const float4*>(X + (size_t)t * n_in) + 2 * c;
            const float4 a = __ldg(x4), b = __ldg(x4 + 1);
            float s = acc[t];
            s = fmaf(f0.x, a.x, s);
            s = fmaf(f0.y, a.y, s);
            s = fmaf(f1.x, a.z, s);
            s = fmaf(f1.y, a.w, s);
            s = fmaf(f2.x, b.x, s);
            s = fmaf(f2.y, b.y, s);
            s = fmaf(f3.x, b.z, s);
            acc[t] = fmaf(f3.y, b.w, s);
        }
    }
    for (int k = 8 * n8 + lane; k < n_in; k += kGpuWarp) {
        const float wk = __half2float(w[k]);
#pragma unroll
        for (int t = 0; t < NT; t++) acc[t] = fmaf(wk, X[(size_t)t * n_in + k], acc[t]);
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float v = warp_sum(acc[t]);
        if (lane == 0) Y[(size_t)t * n_out + row] = v;
    }
}

template <int NT>
void gemv_nt(const gpu_half* W, int n_out, int n_in, const float* X, float* Y) {
    gemv_f16<NT><<<(n_out + kGemvWarps - 1) / kGemvWarps, kGemvWarps * kGpuWarp>>>(W, X, Y, n_out, n_in);
}

// ---- GEMM ------------------------------------------------------------------------------------
// Block 16 x 16 threads, output tile 64 weight rows x 64 tokens, K step 16: thread (ty, tx) owns
// rows ty + 16 i and tokens tx + 16 j (i, j < 4). Tiles past the edges are zero-filled.
constexpr int kGT = 64, kGK = 16;

__global__ void __launch_bounds__(256) gemm_f16(const gpu_half* __restrict__ W, const float* __restrict__ X,
                                                float* __restrict__ Y, int n_out, int n_in, int n_tok) {
    __shared__ float Ws[kGK][kGT + 1];  // [k][row]
    __shared__ float Xs[kGK][kGT + 1];  // [k][token]
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, tid = threadIdx.x;
    const int r0 = blockIdx.x * kGT, t0 = blockIdx.y * kGT;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < n_in; k0 += kGK) {
#pragma unroll
        for (int i = 0; i < 4; i++) {  // 64 x 16 elements of each tile, 4 per thread, k fastest
            const int e = tid + 256 * i, r = e / kGK, k = e % kGK, gk = k0 + k;
            Ws[k][r] = r0 + r < n_out && gk < n_in ? __half2float(W[(size_t)(r0 + r) * n_in + gk]) : 0.0f;
            Xs[k][r] = t0 + r < n_tok && gk < n_in ? X[(size_t)(t0 + r) * n_in + gk] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kGK; k++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = Ws[k][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = Xs[k][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int r = r0 + ty + 16 * i, t = t0 + tx + 16 * j;
            if (r < n_out && t < n_tok) Y[(size_t)t * n_out + r] = acc[i][j];
        }
}

}  // namespace

void launch_f16_gemv(const uint16_t* W16, int n_out, int n_in, const float* X, float* Y, int n_tok) {
    const gpu_half* W = reinterpret_cast<const gpu_half*>(W16);
    for (int t = 0; t < n_tok; t += kGemvMaxTok) {
        const int nt = n_tok - t < kGemvMaxTok ? n_tok - t : kGemvMaxTok;
        const float* x = X + (size_t)t * n_in;
        float* y = Y + (size_t)t * n_out;
        switch (nt) {
            case 1: gemv_nt<1>(W, n_out, n_in, x, y); break;
            case 2: gemv_nt<2>(W, n_out, n_in, x, y); break;
            case 3: gemv_nt<3>(W, n_out, n_in, x, y); break;
            case 4: gemv_nt<4>(W, n_out, n_in, x, y); break;
            case 5: gemv_nt<5>(W, n_out, n_in, x, y); break;
            case 6: gemv_nt<6>(W, n_out, n_in, x, y); break;
            case 7: gemv_nt<7>(W, n_out, n_in, x, y); break;
            default: gemv_nt<8>(W, n_out, n_in, x, y); break;
        }
    }
    check_launch("gemv_f16");
}

void launch_f16_gemm(const uint16_t* W16, int n_out, int n_in, const float* X, float* Y, int n_tok) {
    const dim3 grid((n_out + kGT - 1) / kGT, (n_tok + kGT - 1) / kGT);
    gemm_f16<<<grid, 256>>>(reinterpret_cast<const gpu_half*>(W16), X, Y, n_out, n_in, n_tok);
    check_launch("gemm_f16");
}

}  // namespace edgeq::gpu
