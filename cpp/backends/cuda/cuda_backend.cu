// The CUDA backend's entry points (backend.h): device probing, and FP4 matmuls on the GPU with
// the weights uploaded and repacked per call (fp4_layout.h) or resident (benchmark).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/fp4_kernels.h"
#include "backends/cuda/fp4_layout.h"
#include "backends/cuda/gpu_compat.h"
#include "backends/cuda/gpu_runtime.h"

namespace edgeq {

namespace gpu {

namespace {

std::string version_str(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

Probe probe_device() {
    Probe p;
    int n = 0;
    const gpuError_t e = gpuGetDeviceCount(&n);
    if (e != gpuSuccess || n == 0) {
        p.status = std::string("CUDA not available: no CUDA device (") +
                   (e != gpuSuccess ? gpuGetErrorString(e) : "device count 0") + ")";
        return p;
    }
    int dev = 0;
    gpuGetDevice(&dev);
    gpuDeviceProp prop;
    if (gpuGetDeviceProperties(&prop, dev) != gpuSuccess) {
        p.status = "CUDA not available: cannot read the properties of device " + std::to_string(dev);
        return p;
    }
    p.cc_major = prop.major;
    p.cc_minor = prop.minor;
    const std::string sm = "sm_" + std::to_string(prop.major * 10 + prop.minor);
    std::string why;
    if (!gpu::kernels_runnable(&why)) {
        p.status = "CUDA not available: " + std::string(prop.name) + " (" + sm + "): " + why;
        return p;
    }
    p.fp4mma = gpu::fp4mma_compiled();
    int rt = 0, drv = 0;
    gpuRuntimeGetVersion(&rt);
    gpuDriverGetVersion(&drv);
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", prop.totalGlobalMem / 1073741824.0);
    p.ok = true;
    p.status = "CUDA: " + std::string(prop.name) + " (" + sm + ", " + std::to_string(prop.multiProcessorCount) +
               " SMs, " + mem + "), runtime " + version_str(rt) + ", driver " + version_str(drv) +
               "; FP4 matmul paths: gemv" + (prop.major >= 8 ? ", wmma" : "") + (p.fp4mma ? ", fp4mma" : "");
    return p;
}

}  // namespace

const Probe& probe() {
    static const Probe p = probe_device();
    return p;
}

void unavailable() { throw std::runtime_error(probe().status); }

void check(gpuError_t e, const char* what) {
    if (e != gpuSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + gpuGetErrorString(e));
}

MatmulPath resolve_path(MatmulPath requested, int n_tok) {
#if defined(EDGEQ_HIP)  // only gemv is ported (see README)
    if (requested == MatmulPath::Auto) return MatmulPath::Gemv;
#endif
    const char* v = std::getenv("EDGEQ_CUDA_FP4_ACT");
    const bool allow_fp4_act = v && std::strcmp(v, "1") == 0;
    return choose_path(requested, n_tok, probe().cc_major, probe().cc_minor, probe().fp4mma, allow_fp4_act);
}

DeviceFp4Matrix::DeviceFp4Matrix(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in) {
    const Fp4Layout host = fp4_layout_from_gguf(type, w, w_bytes, n_out, n_in);
    codes = DeviceBuffer::upload(host.codes.data(), host.codes.size(), "upload FP4 codes");
    scales = DeviceBuffer::upload(host.scales.data(), host.scales.size(), "upload FP4 scales");
    view = {type, n_out, n_in, host.group, codes.as<uint8_t>(), scales.as<uint8_t>()};
}

}  // namespace gpu

namespace {

using gpu::check;
using gpu::DeviceBuffer;
using DeviceMatrix = gpu::DeviceFp4Matrix;
using gpu::probe;
using gpu::unavailable;

// Runs one path; scratch is allocated here for fp4mma.
struct Runner {
    const gpu::DeviceFp4& W;
    gpu::MatmulPath path;
    int n_tok;
    DeviceBuffer scratch;
    Runner(const gpu::DeviceFp4& w, gpu::MatmulPath p, int nt)
        : W(w), path(p), n_tok(nt), scratch(p == gpu::MatmulPath::Fp4Mma ? gpu::fp4mma_scratch_bytes(w, nt) : 1) {}
    void run(const float* X, float* Y) { gpu::launch_path(path, W, X, Y, n_tok, scratch.as<uint8_t>()); }
};

gpu::MatmulPath resolve(const std::string& path, int n_tok) {
    return gpu::resolve_path(gpu::parse_path(path), n_tok);
}

}  // namespace

bool cuda_available() { return probe().ok; }
std::string cuda_status() { return probe().status; }

std::vector<float> cuda_matmul(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in, const float* x,
                               int n_tok, const std::string& path) {
    if (!probe().ok) unavailable();
    if (n_tok <= 0) throw std::invalid_argument("cuda_matmul needs at least one token");
    const gpu::MatmulPath p = resolve(path, n_tok);
    DeviceMatrix W(type, w, w_bytes, n_out, n_in);
    DeviceBuffer X((size_t)n_tok * n_in * sizeof(float)), Y((size_t)n_tok * n_out * sizeof(float));
    check(gpuMemcpy(X.p, x, (size_t)n_tok * n_in * sizeof(float), gpuMemcpyHostToDevice), "upload X");
    Runner(W.view, p, n_tok).run(X.as<float>(), Y.as<float>());
    std::vector<float> y((size_t)n_tok * n_out);
    check(gpuMemcpy(y.data(), Y.p, y.size() * sizeof(float), gpuMemcpyDeviceToHost), "download Y");
    return y;
}

CudaBenchResult cuda_benchmark(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in, int n_tok,
                               const std::string& path, int iters) {
    if (!probe().ok) unavailable();
    if (n_tok <= 0 || iters <= 0) throw std::invalid_argument("cuda_benchmark needs n_tok > 0 and iters > 0");
    const gpu::MatmulPath p = resolve(path, n_tok);
    DeviceMatrix W(type, w, w_bytes, n_out, n_in);
    std::vector<float> x((size_t)n_tok * n_in, 0.5f);
    DeviceBuffer X(x.size() * sizeof(float)), Y((size_t)n_tok * n_out * sizeof(float));
    check(gpuMemcpy(X.p, x.data(), x.size() * sizeof(float), gpuMemcpyHostToDevice), "upload X");
    Runner runner(W.view, p, n_tok);
    gpuEvent_t start, stop;
    gpuEventCreate(&start);
    gpuEventCreate(&stop);
    auto median_ms = [&](auto&& fn) {
        fn();  // warm-up
        check(gpuDeviceSynchronize(), "warm-up");
        std::vector<float> ms(iters);
        for (int i = 0; i < iters; i++) {
            gpuEventRecord(start);
            fn();
            gpuEventRecord(stop);
            gpuEventSynchronize(stop);
            gpuEventElapsedTime(&ms[i], start, stop);
        }
        std::sort(ms.begin(), ms.end());
        return (double)ms[iters / 2];
    };
    CudaBenchResult r;
    r.path = gpu::path_name(p);
    r.device = probe().status;
    const double t = median_ms([&] { runner.run(X.as<float>(), Y.as<float>()); }) / 1e3;
    r.seconds = t;
    r.weight_gbps = (double)w_bytes / t / 1e9;
    DeviceBuffer a(w_bytes), b(w_bytes);
    const double tc = median_ms([&] { check(gpuMemcpy(b.p, a.p, w_bytes, gpuMemcpyDeviceToDevice), "memcpy"); }) / 1e3;
    r.memcpy_gbps = 2.0 * (double)w_bytes / tc / 1e9;
    gpuEventDestroy(start);
    gpuEventDestroy(stop);
    check(gpuGetLastError(), "benchmark");
    return r;
}

}  // namespace edgeq
