// placeholder replaced below
#include "kernels/x86/avx512/avx512.h"
namespace edgeq::avx512 {
void register_float(KernelTable&) {}
}
