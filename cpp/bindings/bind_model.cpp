// PLACEHOLDER: the Model binding (forward pass) is added here.
#include "bindings/bindings.h"
namespace edgeq {
void bind_model(pybind11::module_&) {}
}
