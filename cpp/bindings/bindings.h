// One bind_<area>.cpp per area; module.cpp calls each.
#pragma once
#include <pybind11/pybind11.h>

namespace edgeq {
void bind_kernels(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_quant(pybind11::module_& m);
void bind_gguf(pybind11::module_& m);
}  // namespace edgeq
