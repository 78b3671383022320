// FP4 GPU kernels (see fp4_kernels.h for the paths and the layout they read).
#include "backends/cuda/fp4_kernels.h"

#include <stdexcept>
#include <string>

#include "backends/cuda/fp4_decode.h"
#include "backends/cuda/gpu_compat.h"
#include "backends/cuda/gpu_runtime.h"
#include "backends/cuda/warp_reduce.cuh"
#include "edgeq/quant_types.h"

#if !defined(EDGEQ_HIP)
#include <cuda_fp4.h>
#include <cuda_fp8.h>
#include <mma.h>
#endif

// The block-scaled FP4 MMA exists on sm_120a / sm_121a (arch-specific targets) only.
#if defined(__CUDA_ARCH_FEAT_SM120_ALL) || defined(__CUDA_ARCH_FEAT_SM121_ALL)
#define EDGEQ_FP4_MMA 1
#endif

namespace edgeq::gpu {

namespace {

// Two doubled E2M1 values from bits 0..3 and 16..19 of w, times 2^-15 (the kernels fold 2^15 into
// the group scale: one multiply per group instead of two per value pair).
__device__ __forceinline__ float2 e2m1_pair_raw(uint32_t w) {
    const uint32_t h = ((w & 0x00080008u) << 12) | ((w & 0x00070007u) << 9);
    return __half22float2(*reinterpret_cast<const __half2*>(&h));
}

// sum_i value(8 codes of w)_i * x[i] (times 2^-15), x = 8 consecutive floats: w's nibble k is value k.
__device__ __forceinline__ float dot8(uint32_t w, float4 a, float4 b) {
    const float2 p0 = e2m1_pair_raw(w), p1 = e2m1_pair_raw(w >> 4), p2 = e2m1_pair_raw(w >> 8),
                 p3 = e2m1_pair_raw(w >> 12);
    float s = p0.x * a.x;  // (values 0, 4), (1, 5), (2, 6), (3, 7)
    s = fmaf(p1.x, a.y, s);
    s = fmaf(p2.x, a.z, s);
    s = fmaf(p3.x, a.w, s);
    s = fmaf(p0.y, b.x, s);
    s = fmaf(p1.y, b.y, s);
    s = fmaf(p2.y, b.z, s);
    return fmaf(p3.y, b.w, s);
}

// ---- GEMV: n_tok <= 8 ------------------------------------------------------------------------
// Block: 4 warps; warp w handles rows 2 (4 b + w) and +1. Each lane takes 32-value chunks c =
// lane, lane + 32, ...: 16 code bytes (one 128-bit load), 1 (MXFP4) or 2 (NVFP4) scale bytes, and
// 32 floats of each token's activations (read-only cache: all warps read the same X).
constexpr int kGemvWarps = 4, kGemvRowsPerWarp = 2, kGemvMaxTok = 8;

template <bool kNv, int NT>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_fp4(const uint8_t* __restrict__ codes,
                                                            const uint8_t* __restrict__ scales,
                                                            const float* __restrict__ X, float* __restrict__ Y,
                                                            int n_out, int n_in) {
    const int warp = threadIdx.x / kGpuWarp, lane = threadIdx.x % kGpuWarp;
    const int r0 = (blockIdx.x * kGemvWarps + warp) * kGemvRowsPerWarp;
    if (r0 >= n_out) return;
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    const int n_chunks = n_in / 32, n_groups = n_in / G;
    float acc[kGemvRowsPerWarp][NT];
#pragma unroll
    for (int r = 0; r < kGemvRowsPerWarp; r++)
#pragma unroll
        for (int t = 0; t < NT; t++) acc[r][t] = 0.0f;
    for (int c = lane; c < n_chunks; c += kGpuWarp) {
        uint4 q[kGemvRowsPerWarp];
        float s_lo[kGemvRowsPerWarp], s_hi[kGemvRowsPerWarp];  // scales of values 0..15, 16..31 (x 2^15)
#pragma unroll
        for (int r = 0; r < kGemvRowsPerWarp; r++) {
            const int row = min(r0 + r, n_out - 1);  // a missing second row repeats the first, unused
            q[r] = __ldg(reinterpret_cast<const uint4*>(codes + (size_t)row * (n_in / 2)) + c);
            const uint8_t* srow = scales + (size_t)row * n_groups;
            s_lo[r] = scale_half<kNv>(srow[kNv ? 2 * c : c]) * 32768.0f;
            s_hi[r] = kNv ? scale_half<kNv>(srow[2 * c + 1]) * 32768.0f : s_lo[r];
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const float4* x4 = reinterpret_cast<const float4*>(X + (size_t)t * n_in) + 8 * c;
            float4 xv[8];
#pragma unroll
            for (int i = 0; i < 8; i++) xv[i] = __ldg(x4 + i);
#pragma unroll
            for (int r = 0; r < kGemvRowsPerWarp; r++) {
                const float lo = dot8(q[r].x, xv[0], xv[1]) + dot8(q[r].y, xv[2], xv[3]);
                const float hi = dot8(q[r].z, xv[4], xv[5]) + dot8(q[r].w, xv[6], xv[7]);
                acc[r][t] = fmaf(lo, s_lo[r], fmaf(hi, s_hi[r], acc[r][t]));
            }
        }
    }
#pragma unroll
    for (int r = 0; r < kGemvRowsPerWarp; r++)
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const float v = warp_sum(acc[r][t]);
            if (lane == 0 && r0 + r < n_out) Y[(size_t)t * n_out + r0 + r] = v;
        }
}

template <bool kNv, int NT>
void gemv_nt(const DeviceFp4& W, const float* X, float* Y) {
    const int rows_per_block = kGemvWarps * kGemvRowsPerWarp;
    const int blocks = (W.n_out + rows_per_block - 1) / rows_per_block;
    gemv_fp4<kNv, NT><<<blocks, kGemvWarps * kGpuWarp>>>(W.codes, W.scales, X, Y, W.n_out, W.n_in);
}

template <bool kNv>
void gemv_dispatch(const DeviceFp4& W, const float* X, float* Y, int n_tok) {
    switch (n_tok) {
        case 1: return gemv_nt<kNv, 1>(W, X, Y);
        case 2: return gemv_nt<kNv, 2>(W, X, Y);
        case 3: return gemv_nt<kNv, 3>(W, X, Y);
        case 4: return gemv_nt<kNv, 4>(W, X, Y);
        case 5: return gemv_nt<kNv, 5>(W, X, Y);
        case 6: return gemv_nt<kNv, 6>(W, X, Y);
        case 7: return gemv_nt<kNv, 7>(W, X, Y);
        default: return gemv_nt<kNv, 8>(W, X, Y);
    }
}

// ---- WMMA bf16 GEMM (sm_80+) -----------------------------------------------------------------
// Block tile 64 weight rows x 64 tokens, K step 32; 4 warps in 2 x 2, each 32 x 32 = 2 x 2
// fragments of 16 x 16 x 16. Per K step each thread decodes 16 weight values (8 code bytes, one
// scale) into As and converts 16 activations into Bs; rows / tokens past the edge are zeros.
constexpr int kTM = 64, kTN = 64, kTK = 32, kLd = kTK + 8;  // kLd: 80-byte rows, WMMA-aligned

template <bool kNv>
__global__ void __launch_bounds__(128) gemm_fp4_wmma(const uint8_t* __restrict__ codes,
                                                     const uint8_t* __restrict__ scales,
                                                     const float* __restrict__ X, float* __restrict__ Y, int n_out,
                                                     int n_in, int n_tok) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) && !defined(EDGEQ_HIP)
    namespace wmma = nvcuda::wmma;
    __shared__ __align__(32) __nv_bfloat16 As[kTM][kLd];  // (row, k): row-major A
    __shared__ __align__(32) __nv_bfloat16 Bs[kTN][kLd];  // (token, k): B (k x tokens) column-major
    __shared__ __align__(32) float Cs[4][16 * 16];
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int wr = warp / 2, wc = warp % 2;
    const int r0 = blockIdx.x * kTM, t0 = blockIdx.y * kTN;
    const int lr = tid / 2, half_k = 16 * (tid % 2);  // this thread's tile row / token and k half
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    for (int k0 = 0; k0 < n_in; k0 += kTK) {
        const int kk = k0 + half_k;
        {  // A: 16 weight values of row r0 + lr
            const int row = r0 + lr;
            __nv_bfloat16* dst = &As[lr][half_k];
            if (row < n_out) {
                const uint2 q = *reinterpret_cast<const uint2*>(codes + (size_t)row * (n_in / 2) + kk / 2);
                const float s = scale_half<kNv>(scales[(size_t)row * (n_in / G) + kk / G]);
                const uint32_t w[2] = {q.x, q.y};
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int p = 0; p < 4; p++) {  // pair (p, p + 4) of word h
                        const float2 v = e2m1_pair_raw(w[h] >> (4 * p));
                        dst[8 * h + p] = __float2bfloat16(v.x * 32768.0f * s);
                        dst[8 * h + p + 4] = __float2bfloat16(v.y * 32768.0f * s);
                    }
            } else {
#pragma unroll
                for (int i = 0; i < 16; i++) dst[i] = __float2bfloat16(0.0f);
            }
        }
        {  // B: 16 activations of token t0 + lr
            const int t = t0 + lr;
            __nv_bfloat16* dst = &Bs[lr][half_k];
            if (t < n_tok) {
                const float4* x4 = reinterpret_cast<const float4*>(X + (size_t)t * n_in + kk);
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    const float4 v = x4[i];
                    dst[4 * i + 0] = __float2bfloat16(v.x);
                    dst[4 * i + 1] = __float2bfloat16(v.y);
                    dst[4 * i + 2] = __float2bfloat16(v.z);
                    dst[4 * i + 3] = __float2bfloat16(v.w);
                }
            } else {
#pragma unroll
                for (int i = 0; i < 16; i++) dst[i] = __float2bfloat16(0.0f);
            }
        }
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < kTK; ks += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &As[wr * 32 + 16 * i][ks], kLd);
#pragma unroll
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &Bs[wc * 32 + 16 * j][ks], kLd);
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    // Epilogue through shared memory (edges): C (rows x tokens), Y[t * n_out + r].
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::store_matrix_sync(Cs[warp], acc[i][j], 16, wmma::mem_col_major);  // (m, n) at n * 16 + m
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                const int r = r0 + wr * 32 + 16 * i + e % 16, t = t0 + wc * 32 + 16 * j + e / 16;
                if (r < n_out && t < n_tok) Y[(size_t)t * n_out + r] = Cs[warp][e];
            }
            __syncwarp();
        }
#endif
}

// ---- Native FP4 MMA (sm_120a) -----------------------------------------------------------------
// Activation quantizer (host and device): a group of G values -> G codes (natural order, written
// as G / 2 bytes) and one scale byte, in the weight's format:
//   MXFP4: scale 2^(e - 127), the smallest power of two >= amax / 6 (no value clips; ggml's weight
//          rule floor(log2 amax) - 2 clips values above 6 x scale to 6 x scale);
//   NVFP4: scale = E4M3(amax / 6), round to nearest, saturating at 448 (the standard NVFP4 recipe).
// Codes: E2M1(x / scale), round to nearest even, saturating at 6 (cuda_fp4.h).
#if !defined(EDGEQ_HIP)
template <bool kNv>
__host__ __device__ void quantize_group(const float* x, uint8_t* codes, uint8_t* scale_byte) {
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    float amax = 0.0f;
    for (int i = 0; i < G; i++) amax = fmaxf(amax, fabsf(x[i]));
    float scale;
    if (kNv) {
        const __nv_fp8_storage_t s = __nv_cvt_float_to_fp8(amax / 6.0f, __NV_SATFINITE, __NV_E4M3);
        *scale_byte = (uint8_t)s;
        scale = 2.0f * ue4m3_half(s);
    } else {
        uint32_t e = 0;
        const float target = amax / 6.0f;
        if (target > 0.0f) {
            uint32_t bits;
            memcpy(&bits, &target, 4);
            e = (bits >> 23) & 0xFF;
            if (e == 0) e = 1;                       // subnormal target: 2^-126 covers it
            else if (bits & 0x7FFFFF) e++;           // round the power of two up
            if (e > 254) e = 254;
        }
        *scale_byte = (uint8_t)e;
        scale = 2.0f * e8m0_half(e);
    }
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (int i = 0; i < G; i += 2) {
        const uint32_t lo = __nv_cvt_float_to_fp4(x[i] * inv, __NV_E2M1, cudaRoundNearest) & 15;
        const uint32_t hi = __nv_cvt_float_to_fp4(x[i + 1] * inv, __NV_E2M1, cudaRoundNearest) & 15;
        codes[i / 2] = (uint8_t)(lo | hi << 4);
    }
}

template <bool kNv>
__global__ void quantize_act_fp4(const float* __restrict__ X, uint8_t* __restrict__ codes,
                                 uint8_t* __restrict__ scales, int n_in, int n_groups_total) {
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    const int g = blockIdx.x * blockDim.x + threadIdx.x;  // group index over (token, group)
    if (g >= n_groups_total) return;
    const int per_row = n_in / G, t = g / per_row, j = g % per_row;
    quantize_group<kNv>(X + (size_t)t * n_in + (size_t)j * G, codes + (size_t)t * (n_in / 2) + (size_t)j * (G / 2),
                        scales + (size_t)t * per_row + j);
}

// One warp: a 16-row x 8-token tile of Y over all of K (64 per MMA). Fragments (PTX ISA, mma
// m16n8k64 .e2m1; g = lane / 4, c = lane % 4; each .b32 packs 8 codes, lowest index lowest bits):
//   A (16 x 64, row): a0 row g, k 8c..8c+7; a1 row g + 8; a2 row g, k 32 + 8c..; a3 row g + 8, k 32 + ..
//   B (64 x 8, col):  b0 token g, k 8c..8c+7; b1 token g, k 32 + 8c..
//   C (16 x 8):       c0, c1 row g, tokens 2c, 2c + 1; c2, c3 row g + 8
//   scales: A: lanes with c = 0 / 1 supply row g / g + 8 (4 UE4M3 or 2 E8M0 bytes for the K
//   groups, lowest byte first); B: lanes with c = 0 supply token g. Other lanes' values are unused.
template <bool kNv>
__global__ void __launch_bounds__(128) gemm_fp4_mma(const uint8_t* __restrict__ wcodes,
                                                    const uint8_t* __restrict__ wscales,
                                                    const uint8_t* __restrict__ xcodes,
                                                    const uint8_t* __restrict__ xscales, float* __restrict__ Y,
                                                    int n_out, int n_in, int n_tok) {
#if defined(EDGEQ_FP4_MMA)
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    const int r0 = (blockIdx.x * 4 + warp) * 16, t0 = blockIdx.y * 8;
    if (r0 >= n_out) return;
    const int row_a = min(r0 + g, n_out - 1), row_b = min(r0 + g + 8, n_out - 1);
    const int row_s = min(r0 + g + 8 * (c & 1), n_out - 1);
    const int tok = min(t0 + g, n_tok - 1);
    const uint8_t* wa = wcodes + (size_t)row_a * (n_in / 2);
    const uint8_t* wb = wcodes + (size_t)row_b * (n_in / 2);
    const uint8_t* xt = xcodes + (size_t)tok * (n_in / 2);
    const uint8_t* ws = wscales + (size_t)row_s * (n_in / G);
    const uint8_t* xs = xscales + (size_t)tok * (n_in / G);
    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
    for (int k0 = 0; k0 < n_in; k0 += 64) {
        const int lo = (k0 + 8 * c) / 2, hi = (k0 + 32 + 8 * c) / 2;  // byte offsets of 8 codes
        const uint32_t a0 = *reinterpret_cast<const uint32_t*>(wa + lo), a1 = *reinterpret_cast<const uint32_t*>(wb + lo);
        const uint32_t a2 = *reinterpret_cast<const uint32_t*>(wa + hi), a3 = *reinterpret_cast<const uint32_t*>(wb + hi);
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(xt + lo), b1 = *reinterpret_cast<const uint32_t*>(xt + hi);
        uint32_t sa, sb;
        if (kNv) {
            sa = *reinterpret_cast<const uint32_t*>(ws + k0 / 16);
            sb = *reinterpret_cast<const uint32_t*>(xs + k0 / 16);
            asm volatile(
                "mma.sync.aligned.kind::mxf4nvf4.block_scale.scale_vec::4X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue4m3 "
                "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {0, 0}, %11, {0, 0};"
                : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(sa), "r"(sb));
        } else {
            sa = *reinterpret_cast<const uint16_t*>(ws + k0 / 32);
            sb = *reinterpret_cast<const uint16_t*>(xs + k0 / 32);
            asm volatile(
                "mma.sync.aligned.kind::mxf4.block_scale.scale_vec::2X.m16n8k64.row.col.f32.e2m1.e2m1.f32.ue8m0 "
                "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {0, 0}, %11, {0, 0};"
                : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(sa), "r"(sb));
        }
    }
    const int t_lo = t0 + 2 * c;
    const float d[4] = {d0, d1, d2, d3};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = r0 + g + 8 * (i / 2), t = t_lo + (i % 2);
        if (r < n_out && t < n_tok) Y[(size_t)t * n_out + r] = d[i];
    }
#endif
}
#endif  // !EDGEQ_HIP

// Probe kernel: exists in the binary only where the native path was compiled (fp4mma_compiled).
__global__ void fp4mma_probe(int* out) {
#if defined(EDGEQ_FP4_MMA)
    *out = 1;
#else
    *out = 0;
#endif
}

}  // namespace

MatmulPath parse_path(const std::string& name) {
    if (name == "auto" || name.empty()) return MatmulPath::Auto;
    if (name == "gemv") return MatmulPath::Gemv;
    if (name == "wmma") return MatmulPath::Wmma;
    if (name == "fp4mma") return MatmulPath::Fp4Mma;
    throw std::invalid_argument("unknown CUDA matmul path '" + name + "' (auto, gemv, wmma, fp4mma)");
}

const char* path_name(MatmulPath p) {
    switch (p) {
        case MatmulPath::Gemv: return "gemv";
        case MatmulPath::Wmma: return "wmma";
        case MatmulPath::Fp4Mma: return "fp4mma";
        default: return "auto";
    }
}

MatmulPath choose_path(MatmulPath requested, int n_tok, int cc_major, int cc_minor, bool fp4mma_built,
                       bool allow_fp4_act) {
    const bool sm120 = cc_major == 12;  // 12.0 (RTX 50 / RTX PRO), 12.1 (GB10)
    if (requested == MatmulPath::Fp4Mma && !(sm120 && fp4mma_built))
        throw std::invalid_argument("the fp4mma path needs an sm_120 device and a build with sm_120a (device is sm_" +
                                    std::to_string(cc_major * 10 + cc_minor) + ")");
    if (requested == MatmulPath::Wmma && cc_major < 8)
        throw std::invalid_argument("the wmma path needs sm_80 or newer");
    if (requested != MatmulPath::Auto) return requested;
    if (n_tok <= kGemvMaxTok) return MatmulPath::Gemv;
    if (sm120 && fp4mma_built && allow_fp4_act) return MatmulPath::Fp4Mma;
    if (cc_major >= 8) return MatmulPath::Wmma;
    return MatmulPath::Gemv;  // loops over token groups of 8
}

void launch_gemv(const DeviceFp4& W, const float* X, float* Y, int n_tok) {
    for (int t = 0; t < n_tok; t += kGemvMaxTok) {
        const int nt = n_tok - t < kGemvMaxTok ? n_tok - t : kGemvMaxTok;
        if (W.type == GGML_NVFP4) gemv_dispatch<true>(W, X + (size_t)t * W.n_in, Y + (size_t)t * W.n_out, nt);
        else gemv_dispatch<false>(W, X + (size_t)t * W.n_in, Y + (size_t)t * W.n_out, nt);
    }
    check_launch("gemv_fp4");
}

void launch_wmma(const DeviceFp4& W, const float* X, float* Y, int n_tok) {
#if defined(EDGEQ_HIP)
    throw std::runtime_error("the wmma path is not ported to HIP yet (it needs rocWMMA)");
#endif
    const dim3 grid((W.n_out + kTM - 1) / kTM, (n_tok + kTN - 1) / kTN);
    if (W.type == GGML_NVFP4) gemm_fp4_wmma<true><<<grid, 128>>>(W.codes, W.scales, X, Y, W.n_out, W.n_in, n_tok);
    else gemm_fp4_wmma<false><<<grid, 128>>>(W.codes, W.scales, X, Y, W.n_out, W.n_in, n_tok);
    check_launch("gemm_fp4_wmma");
}

size_t fp4mma_scratch_bytes(const DeviceFp4& W, int n_tok) {
    return (size_t)n_tok * (W.n_in / 2) + (size_t)n_tok * (W.n_in / W.group) + 16;
}

void launch_fp4mma(const DeviceFp4& W, const float* X, float* Y, int n_tok, uint8_t* scratch) {
#if defined(EDGEQ_HIP)
    throw std::runtime_error("the fp4mma path is CUDA-only");
#else
    if (W.n_in % 64 != 0) throw std::invalid_argument("the fp4mma path needs rows of whole 64-value blocks");
    uint8_t* xcodes = scratch;
    uint8_t* xscales = scratch + (size_t)n_tok * (W.n_in / 2);
    const int groups = n_tok * (W.n_in / W.group);
    const bool nv = W.type == GGML_NVFP4;
    if (nv) quantize_act_fp4<true><<<(groups + 255) / 256, 256>>>(X, xcodes, xscales, W.n_in, groups);
    else quantize_act_fp4<false><<<(groups + 255) / 256, 256>>>(X, xcodes, xscales, W.n_in, groups);
    check_launch("quantize_act_fp4");
    const dim3 grid((W.n_out + 63) / 64, (n_tok + 7) / 8);
    if (nv) gemm_fp4_mma<true><<<grid, 128>>>(W.codes, W.scales, xcodes, xscales, Y, W.n_out, W.n_in, n_tok);
    else gemm_fp4_mma<false><<<grid, 128>>>(W.codes, W.scales, xcodes, xscales, Y, W.n_out, W.n_in, n_tok);
    check_launch("gemm_fp4_mma");
#endif
}

void launch_path(MatmulPath p, const DeviceFp4& W, const float* X, float* Y, int n_tok, uint8_t* scratch) {
    switch (p) {
        case MatmulPath::Wmma: return launch_wmma(W, X, Y, n_tok);
        case MatmulPath::Fp4Mma: return launch_fp4mma(W, X, Y, n_tok, scratch);
        case MatmulPath::Gemv: return launch_gemv(W, X, Y, n_tok);
        default: throw std::logic_error("launch_path: resolve the path first");
    }
}

bool fp4mma_compiled() {
    int* d = nullptr;
    int h = 0;
    if (gpuMalloc(&d, sizeof(int)) != gpuSuccess) return false;
    fp4mma_probe<<<1, 1>>>(d);
    const bool ok = gpuGetLastError() == gpuSuccess && gpuMemcpy(&h, d, sizeof(int), gpuMemcpyDeviceToHost) == gpuSuccess;
    gpuFree(d);
    return ok && h == 1;
}

bool kernels_runnable(std::string* why) {
    gpuFuncAttributes attr;
    const gpuError_t e = gpuFuncGetAttributes(&attr, reinterpret_cast<const void*>(&gemv_fp4<false, 1>));
    if (e == gpuSuccess) return true;
    if (why) *why = std::string("this build has no kernels for the device (") + gpuGetErrorString(e) + ")";
    return false;
}

void quantize_act_fp4_host(uint32_t type, const float* x, int n, uint8_t* codes, uint8_t* scales) {
#if defined(EDGEQ_HIP)
    throw std::runtime_error("the fp4mma path is CUDA-only");
#else
    const bool nv = type == GGML_NVFP4;
    const int G = nv ? QK_NVFP4_SUB : QK_MXFP4;
    if (type != GGML_NVFP4 && type != GGML_MXFP4) throw std::invalid_argument("quantize_act_fp4_host: MXFP4 or NVFP4");
    if (n % G != 0) throw std::invalid_argument("quantize_act_fp4_host: n must be whole groups");
    for (int j = 0; j < n / G; j++) {
        if (nv) quantize_group<true>(x + j * G, codes + j * G / 2, scales + j);
        else quantize_group<false>(x + j * G, codes + j * G / 2, scales + j);
    }
#endif
}

}  // namespace edgeq::gpu
