// Optional accelerator backends. Each is a build option with a stub (no_cuda.cpp).
#pragma once
#include <string>

namespace edgeq {
bool cuda_available();
std::string cuda_status();
}  // namespace edgeq
