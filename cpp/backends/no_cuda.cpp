// Stub used when EDGEQ_CUDA=OFF: callers ask, never #ifdef.
#include "backends/backend.h"

namespace edgeq {
bool cuda_available() { return false; }
std::string cuda_status() { return "edgeq was built without CUDA (EDGEQ_CUDA=OFF)"; }
}  // namespace edgeq
