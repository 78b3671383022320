// What the CUDA backend's host code shares: the device probe, error checks, owned device memory,
// and the FP4 path choice for the current device (definitions in cuda_backend.cu).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "backends/cuda/fp4_kernels.h"
#include "backends/cuda/gpu_compat.h"

namespace edgeq::gpu {

// The current device, probed once: ok, or status says why not ("CUDA not available: ...").
struct Probe {
    bool ok = false;
    std::string status;
    int cc_major = 0, cc_minor = 0;
    bool fp4mma = false;
};
const Probe& probe();
[[noreturn]] void unavailable();  // throws std::runtime_error(probe().status)

// Throws std::runtime_error("CUDA error in <what>: <error>") unless e is success.
void check(gpuError_t e, const char* what);
// check() of the last kernel launch.
inline void check_launch(const char* what) { check(gpuGetLastError(), what); }

// Device memory freed at scope exit (movable, not copyable).
struct DeviceBuffer {
    void* p = nullptr;
    size_t bytes = 0;
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t n) : bytes(n) { check(gpuMalloc(&p, n ? n : 1), "cudaMalloc"); }
    ~DeviceBuffer() {
        if (p) gpuFree(p);
    }
    DeviceBuffer(DeviceBuffer&& o) noexcept : p(std::exchange(o.p, nullptr)), bytes(o.bytes) {}
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        std::swap(p, o.p);
        std::swap(bytes, o.bytes);
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    template <class T> T* as() const { return static_cast<T*>(p); }
    // A device copy of n host bytes.
    static DeviceBuffer upload(const void* host, size_t n, const char* what) {
        DeviceBuffer b(n);
        check(gpuMemcpy(b.p, host, n, gpuMemcpyHostToDevice), what);
        return b;
    }
};

// An FP4 matrix uploaded in the GPU layout (fp4_layout.h) from its GGUF bytes; view points into
// codes / scales (stays valid when moved).
struct DeviceFp4Matrix {
    DeviceBuffer codes, scales;
    DeviceFp4 view;
    DeviceFp4Matrix(uint32_t type, const uint8_t* w, size_t w_bytes, int n_out, int n_in);
};

// The FP4 path for n_tok tokens on this device (choose_path with the probed device; "auto" takes
// the W4A4 fp4mma path only with EDGEQ_CUDA_FP4_ACT=1; under HIP only gemv is ported).
MatmulPath resolve_path(MatmulPath requested, int n_tok);

}  // namespace edgeq::gpu
