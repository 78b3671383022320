// PLACEHOLDER: to be implemented.
#include "kernels/ref/ref.h"
namespace edgeq::ref {
void register_kquants(KernelTable&) {}
}
