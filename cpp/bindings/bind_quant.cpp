// Offline weight quantizers (quant/quantize.h) for `edgeq quantize`.
#include <pybind11/numpy.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "bindings/bindings.h"
#include "kernels/kernels.h"
#include "quant/quantize.h"

namespace py = pybind11;

namespace edgeq {
namespace {

using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;
using U8Array = py::array_t<uint8_t, py::array::c_style>;

// x float (n_rows, n_per_row) -> GGUF bytes (n_rows, row bytes). The GIL is released while the
// rows are quantized on n_threads threads (<= 0: all hardware threads).
U8Array quantize_rows_py(uint32_t type, F32Array x, int n_threads, const std::string& search) {
    if (!has_weight_quantizer(type, search.c_str()))
        throw std::invalid_argument(std::string("no C++ quantizer for ") + ggml_type_name(type) + " with search '" +
                                    search + "'");
    if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D (n_rows, n_per_row)");
    const int64_t n_rows = x.shape(0), n_per_row = x.shape(1);
    // (a row length that is not a whole number of blocks makes quantize_rows throw before it
    // writes anything)
    const int64_t row_bytes = std::max<int64_t>(0, n_per_row / ggml_block_size(type)) * (int64_t)ggml_type_size(type);
    U8Array out({n_rows, row_bytes});
    const float* src = x.data();
    uint8_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        quantize_rows(type, src, dst, n_rows, n_per_row, n_threads, search.c_str());
    }
    return out;
}

}  // namespace

void bind_quant(py::module_& m) {
    m.def("has_quantizer", [](uint32_t type, const std::string& search) { return has_weight_quantizer(type, search.c_str()); },
          py::arg("type"), py::arg("search") = "rtn", "whether the C++ core quantizes weights of this GGUF type");
    m.def("quantize_rows", &quantize_rows_py, py::arg("type"), py::arg("x"), py::arg("n_threads") = 0,
          py::arg("search") = "rtn",
          "float32 (n_rows, n_per_row) -> uint8 (n_rows, row bytes): ggml's reference quantizer bytes "
          "(search='rtn'), or for Q4_K a searched fit ('mse', 'wmse')");
}

}  // namespace edgeq
