// Stub used when EDGEQ_CUDA=OFF: callers ask, never #ifdef.
#include <stdexcept>

#include "backends/backend.h"

namespace edgeq {

bool cuda_available() { return false; }
std::string cuda_status() { return "edgeq was built without CUDA (EDGEQ_CUDA=OFF)"; }

namespace {
[[noreturn]] void unavailable() { throw std::runtime_error("CUDA not available: " + cuda_status()); }
}  // namespace

std::vector<float> cuda_matmul(uint32_t, const uint8_t*, size_t, int, int, const float*, int, const std::string&) {
    unavailable();
}
CudaBenchResult cuda_benchmark(uint32_t, const uint8_t*, size_t, int, int, int, const std::string&, int) {
    unavailable();
}

}  // namespace edgeq
