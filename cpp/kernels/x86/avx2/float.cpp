// PLACEHOLDER: to be implemented.
#include "kernels/x86/avx2/avx2.h"
namespace edgeq::avx2 {
void register_float(KernelTable&) {}
}
