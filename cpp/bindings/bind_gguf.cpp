// GGUF facts that live in C++ and are read by Python: the architecture table (model.py
// ARCH_FLAGS) and the GGML type table (checked against gguf.py GGML_TYPES by a test).
#include <pybind11/stl.h>

#include "bindings/bindings.h"
#include "gguf/gguf.h"
#include "gguf/model_config.h"

namespace py = pybind11;

namespace edgeq {

void bind_gguf(py::module_& m) {
    m.def(
        "arch_flags",
        [] {
            py::dict out;
            for (const ArchFlags& a : arch_table()) {
                py::dict f;
                f["rope_style"] = a.rope_style == RopeStyle::NeoX ? "neox" : "normal";
                f["ffn_act"] = a.ffn_act == FfnAct::ReluSqr ? "relu2" : "silu";
                f["sub_norms"] = a.sub_norms;
                f["matmul_scales"] = a.matmul_scales;
                out[py::str(a.arch)] = f;
            }
            return out;
        },
        "The architectures the forward pass runs: {arch: {rope_style, ffn_act, sub_norms, matmul_scales}}");
    m.def(
        "ggml_types",
        [] {
            py::dict out;
            for (uint32_t id : ggml_known_types()) {
                const GgmlTypeInfo t = ggml_type_info(id);
                out[py::int_(id)] = py::make_tuple(t.name, t.block, t.bytes);
            }
            return out;
        },
        "The GGML tensor types the C++ GGUF reader knows: {id: (name, values per block, bytes per block)}");
}

}  // namespace edgeq
