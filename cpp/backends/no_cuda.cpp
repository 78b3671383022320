// Stub used when EDGEQ_CUDA=OFF: callers ask, never #ifdef.
#include <stdexcept>

#include "backends/backend.h"
#include "backends/gpu_model.h"

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

// Never constructed: the constructor throws, so the other members are never called.
struct CudaModel::Impl {};
CudaModel::CudaModel(ModelConfig, const TensorMap&, int) { unavailable(); }
CudaModel::~CudaModel() = default;
void CudaModel::eval(const int32_t*, int, bool, float*) { unavailable(); }
int CudaModel::n_past() const { unavailable(); }
int CudaModel::n_ctx() const { unavailable(); }
void CudaModel::truncate(int) { unavailable(); }
void CudaModel::reset() { unavailable(); }
const ModelConfig& CudaModel::config() const { unavailable(); }
bool CudaModel::tied_output() const { unavailable(); }
std::string CudaModel::summary() const { unavailable(); }

}  // namespace edgeq
