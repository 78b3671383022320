#include "bindings/bindings.h"

PYBIND11_MODULE(_core, m) {
    m.doc() = "edgeq C++ core: kernels and the transformer forward pass";
    edgeq::bind_kernels(m);
    edgeq::bind_model(m);
    edgeq::bind_quant(m);
    edgeq::bind_gguf(m);
}
