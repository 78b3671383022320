#include "backends/cuda/gpu_ops.h"

#include <stdexcept>
#include <string>

#include "backends/cuda/f16_kernels.h"
#include "backends/cuda/fp4_decode.h"
#include "backends/cuda/gpu_compat.h"
#include "backends/cuda/gpu_runtime.h"
#include "backends/cuda/warp_reduce.cuh"

namespace edgeq::gpu {

namespace {

constexpr int kThreads = 256;

__global__ void scale_kernel(float* y, size_t n, float s) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] *= s;
}

// One thread per value: row tokens[t] of the matrix, column k.
template <bool kNv>
__global__ void embed_fp4(const uint8_t* __restrict__ codes, const uint8_t* __restrict__ scales,
                          const int32_t* __restrict__ tokens, float* __restrict__ x, int n_in) {
    constexpr int G = kNv ? QK_NVFP4_SUB : QK_MXFP4;
    const int t = blockIdx.y, k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n_in) return;
    const size_t row = (size_t)tokens[t];
    const uint32_t code = (codes[row * (n_in / 2) + k / 2] >> (4 * (k % 2))) & 15;
    x[(size_t)t * n_in + k] = e2m1_x2(code) * scale_half<kNv>(scales[row * (n_in / G) + k / G]);
}

__global__ void embed_f16(const gpu_half* __restrict__ E, const int32_t* __restrict__ tokens,
                          float* __restrict__ x, int n_in) {
    const int t = blockIdx.y, k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n_in) x[(size_t)t * n_in + k] = __half2float(E[(size_t)tokens[t] * n_in + k]);
}

// One block per row.
__global__ void rmsnorm_kernel(float* out, float* x, const float* __restrict__ residual,
                               const float* __restrict__ w, int dim, float eps) {
    float* xr = x + (size_t)blockIdx.x * dim;
    float* o = out + (size_t)blockIdx.x * dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = xr[i];
        if (residual) {
            v += residual[(size_t)blockIdx.x * dim + i];
            xr[i] = v;
        }
        ss = fmaf(v, v, ss);
    }
    const float scale = 1.0f / sqrtf(block_sum(ss) / dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = xr[i] * scale * w[i];  // same i: no race
}

// Block per token; one thread per rotated pair of a q or k head.
__global__ void rope_kernel(float* q, int q_stride, int n_head, float* k, int k_stride, int n_head_kv, int head_dim,
                            int rope_dim, const float* __restrict__ cos_sin, bool neox) {
    const int t = blockIdx.x, half = rope_dim / 2;
    const float* cs = cos_sin + (size_t)t * rope_dim;
    for (int e = threadIdx.x; e < (n_head + n_head_kv) * half; e += blockDim.x) {
        const int h = e / half, i = e % half;
        float* v = h < n_head ? q + (size_t)t * q_stride + h * head_dim : k + (size_t)t * k_stride + (h - n_head) * head_dim;
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

// Block per (head, token), kAttWarps warps. Warp w takes positions w, w + kAttWarps, ...: one
// score per position (dot product across the warp, PL head dims per lane), an online softmax
// (running max m, sum l, output acc rescaled when m grows); the warps' states are merged at the end.
constexpr int kAttWarps = 8;

template <int PL>
__global__ void __launch_bounds__(kAttWarps * kGpuWarp) attention_kernel(
    const float* __restrict__ q, const float* __restrict__ kc, const float* __restrict__ vc, float* __restrict__ out,
    int pos0, int n_head, int group, int head_dim, int kv_dim, float scale) {
    __shared__ float sm[kAttWarps], sl[kAttWarps], sacc[kAttWarps][PL * kGpuWarp];
    const int h = blockIdx.x, t = blockIdx.y, pos = pos0 + t;
    const int warp = threadIdx.x / kGpuWarp, lane = threadIdx.x % kGpuWarp;
    const int q_dim = n_head * head_dim, kv_off = (h / group) * head_dim;
    float qr[PL], acc[PL];
#pragma unroll
    for (int i = 0; i < PL; i++) {
        const int d = i * kGpuWarp + lane;
        qr[i] = d < head_dim ? q[(size_t)t * q_dim + h * head_dim + d] : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int p = warp; p <= pos; p += kAttWarps) {
        const float* kr = kc + (size_t)p * kv_dim + kv_off;
        const float* vr = vc + (size_t)p * kv_dim + kv_off;
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < PL; i++) {
            const int d = i * kGpuWarp + lane;
            if (d < head_dim) s = fmaf(qr[i], kr[d], s);
        }
        s = warp_sum(s) * scale;
        const float m_new = fmaxf(m, s), corr = expf(m - m_new), e = expf(s - m_new);
        l = l * corr + e;
#pragma unroll
        for (int i = 0; i < PL; i++) {
            const int d = i * kGpuWarp + lane;
            acc[i] = acc[i] * corr + (d < head_dim ? e * vr[d] : 0.0f);
        }
        m = m_new;
    }
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < PL; i++) sacc[warp][i * kGpuWarp + lane] = acc[i];
    __syncthreads();
    float M = sm[0];  // warp 0 always has position 0: finite
    for (int w = 1; w < kAttWarps; w++) M = fmaxf(M, sm[w]);
    float L = 0.0f;
    for (int w = 0; w < kAttWarps; w++) L += sl[w] * expf(sm[w] - M);  // empty warps: exp(-inf) = 0
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < kAttWarps; w++) o += sacc[w][d] * expf(sm[w] - M);
        out[(size_t)t * q_dim + h * head_dim + d] = o / L;
    }
}

__global__ void gate_kernel(float* gate, const float* __restrict__ up, size_t n, bool relu_sqr) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float g = gate[i];
    if (relu_sqr) {
        const float r = g > 0.0f ? g : 0.0f;
        gate[i] = r * r * up[i];
    } else {
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

unsigned blocks(size_t n) { return (unsigned)((n + kThreads - 1) / kThreads); }

}  // namespace

void matmul(const DeviceWeight& W, const float* X, float* Y, int n_tok, uint8_t* scratch) {
    if (W.format == WeightFormat::Fp4) {
        launch_path(resolve_path(MatmulPath::Auto, n_tok), W.fp4, X, Y, n_tok, scratch);
    } else if (n_tok <= 8) {
        launch_f16_gemv(W.f16, W.n_out, W.n_in, X, Y, n_tok);
    } else {
        launch_f16_gemm(W.f16, W.n_out, W.n_in, X, Y, n_tok);
    }
    if (W.scale != 1.0f) {
        const size_t n = (size_t)n_tok * W.n_out;
        scale_kernel<<<blocks(n), kThreads>>>(Y, n, W.scale);
        check_launch("scale");
    }
}

void embed_rows(const DeviceWeight& E, const int32_t* tokens, int n, float* x) {
    const dim3 grid(blocks(E.n_in), n);
    if (E.format == WeightFormat::F16)
        embed_f16<<<grid, kThreads>>>(reinterpret_cast<const gpu_half*>(E.f16), tokens, x, E.n_in);
    else if (E.fp4.type == GGML_NVFP4)
        embed_fp4<true><<<grid, kThreads>>>(E.fp4.codes, E.fp4.scales, tokens, x, E.n_in);
    else
        embed_fp4<false><<<grid, kThreads>>>(E.fp4.codes, E.fp4.scales, tokens, x, E.n_in);
    check_launch("embed_rows");
}

void rmsnorm(float* out, float* x, const float* residual, const float* w, int n_tok, int dim, float eps) {
    if (out == x && residual) throw std::logic_error("rmsnorm: an in-place norm takes no residual");
    rmsnorm_kernel<<<n_tok, kThreads>>>(out, x, residual, w, dim, eps);
    check_launch("rmsnorm");
}

void rope(float* q, int q_stride, int n_head, float* k, int k_stride, int n_head_kv, int n_tok, int head_dim,
          int rope_dim, const float* cos_sin, bool neox) {
    rope_kernel<<<n_tok, 128>>>(q, q_stride, n_head, k, k_stride, n_head_kv, head_dim, rope_dim, cos_sin, neox);
    check_launch("rope");
}

void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int n_tok, int pos0,
               int n_head, int n_head_kv, int head_dim) {
    const dim3 grid(n_head, n_tok);
    const int group = n_head / n_head_kv, kv_dim = n_head_kv * head_dim;
    const float scale = 1.0f / sqrtf((float)head_dim);
    if (head_dim <= 2 * kGpuWarp)
        attention_kernel<2><<<grid, kAttWarps * kGpuWarp>>>(q, k_cache, v_cache, out, pos0, n_head, group, head_dim, kv_dim, scale);
    else if (head_dim <= 4 * kGpuWarp)
        attention_kernel<4><<<grid, kAttWarps * kGpuWarp>>>(q, k_cache, v_cache, out, pos0, n_head, group, head_dim, kv_dim, scale);
    else if (head_dim <= 8 * kGpuWarp)
        attention_kernel<8><<<grid, kAttWarps * kGpuWarp>>>(q, k_cache, v_cache, out, pos0, n_head, group, head_dim, kv_dim, scale);
    else
        throw std::invalid_argument("the GPU attention takes head_dim <= " + std::to_string(8 * kGpuWarp));
    check_launch("attention");
}

void ffn_gate(float* gate, const float* up, size_t n, bool relu_sqr) {
    gate_kernel<<<blocks(n), kThreads>>>(gate, up, n, relu_sqr);
    check_launch("ffn_gate");
}

}  // namespace edgeq::gpu
