// Kernel-level entry points: ISA queries and single kernel calls (used by tests and `edgeq info`).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "backends/backend.h"
#include "bindings/bindings.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"
#include "kernels/ternary_lut.h"
#include "kernels/ternary_lut_dword.h"
#include "quant/quantize.h"

namespace py = pybind11;

namespace edgeq {
namespace {

using U8Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

const KernelTable& table(const std::string& isa) { return isa.empty() ? kernels() : kernels_for(isa); }

size_t row_bytes_checked(uint32_t type, int64_t n) {
    const int bs = ggml_block_size(type);
    if (bs == 0) throw std::invalid_argument("unknown tensor type " + std::to_string(type));
    if (n <= 0 || n % bs != 0)
        throw std::invalid_argument(std::string(ggml_type_name(type)) + " rows must be a positive multiple of " +
                                    std::to_string(bs) + ", got " + std::to_string(n));
    return weight_row_bytes(type, (int)n);
}

// data (n_rows * row bytes) -> float (n_rows, n)
F32Array dequantize(uint32_t type, U8Array data, int64_t n, const std::string& isa) {
    const KernelTable& t = table(isa);
    const size_t rb = row_bytes_checked(type, n);
    if (type >= kNumGgmlTypes || !t.dequantize_row[type])
        throw std::invalid_argument(std::string("no dequantize kernel for ") + ggml_type_name(type));
    if (data.size() % rb != 0) throw std::invalid_argument("data is not a whole number of rows");
    const int64_t rows = data.size() / rb;
    F32Array out({rows, n});
    const uint8_t* src = data.data();
    float* dst = out.mutable_data();
    for (int64_t r = 0; r < rows; r++) t.dequantize_row[type](src + r * rb, dst + r * n, (int)n);
    return out;
}

// x float (rows, n) -> GGUF weight bytes (rows, row bytes) of `type` (the reference quantizer).
U8Array quantize(uint32_t type, F32Array x) {
    const KernelTable& t = kernels_for("ref");
    if (type >= kNumGgmlTypes || !t.quantize_row[type])
        throw std::invalid_argument(std::string("no weight quantizer for ") + ggml_type_name(type));
    if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D (rows, n)");
    const int64_t rows = x.shape(0), n = x.shape(1);
    const size_t rb = row_bytes_checked(type, n);
    U8Array out({rows, (int64_t)rb});
    const float* src = x.data();
    uint8_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        quantize_rows(type, src, dst, rows, n, 1, "rtn");  // the table's quantizer, row by row
    }
    return out;
}

// x float (n_tok, n) -> the activation bytes (n_tok, act_row_bytes)
U8Array quantize_act(int act, F32Array x, const std::string& isa) {
    const KernelTable& t = table(isa);
    if (act < 0 || act >= kNumActTypes || !t.quantize_act[act]) throw std::invalid_argument("unknown activation type");
    if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D (n_tok, n)");
    const int64_t n_tok = x.shape(0), n = x.shape(1);
    const size_t rb = act_row_bytes((ActType)act, (int)n);
    U8Array out({n_tok, (int64_t)rb});
    for (int64_t i = 0; i < n_tok; i++) t.quantize_act[act](x.data() + i * n, out.mutable_data() + i * rb, (int)n);
    return out;
}

// The kernel for `type` and W's size (n_out rows, padded to the type's row tile) checked.
const MatmulKernel& matmul_kernel(const KernelTable& t, uint32_t type, const U8Array& w, int64_t n_out, int64_t n_in) {
    row_bytes_checked(type, n_in);
    if (type >= kNumGgmlTypes || !t.matmul[type].fn)
        throw std::invalid_argument(std::string("no matmul kernel for ") + ggml_type_name(type));
    if (n_out <= 0 || (size_t)w.size() != weight_matrix_bytes(type, (int)n_in, (int)n_out))
        throw std::invalid_argument("weight bytes do not match (n_out, n_in)");
    return t.matmul[type];
}

// Y (n_tok, n_out) = X (n_tok, n_in) @ W^T, W given as GGUF bytes of n_out rows (or a layout made
// at load, e.g. tl_pack's). binary_act: Q1_0's opt-in binary-activation kernel
// (KernelTable::q1_0_binary_act) instead of matmul[type].
F32Array matmul(uint32_t type, U8Array w, int64_t n_out, int64_t n_in, F32Array x, const std::string& isa,
                bool binary_act) {
    const KernelTable& t = table(isa);
    if (binary_act && type != GGML_Q1_0) throw std::invalid_argument("binary_act is for Q1_0 weights only");
    const MatmulKernel& checked = matmul_kernel(t, type, w, n_out, n_in);  // sizes checked either way
    const MatmulKernel& k = binary_act ? t.q1_0_binary_act : checked;
    const size_t rb = row_bytes_checked(type, n_in);
    if (x.ndim() != 2 || x.shape(1) != n_in) throw std::invalid_argument("x must be (n_tok, n_in)");
    const int64_t n_tok = x.shape(0);
    const size_t xb = act_row_bytes(k.act, (int)n_in);
    std::vector<uint8_t> xq(xb * n_tok);
    for (int64_t i = 0; i < n_tok; i++) t.quantize_act[k.act](x.data() + i * n_in, xq.data() + i * xb, (int)n_in);
    F32Array y({n_tok, n_out});
    {
        py::gil_scoped_release release;
        k.fn(w.data(), rb, xq.data(), xb, y.mutable_data(), (size_t)n_out, (int)n_in, (int)n_tok, 0, (int)n_out);
    }
    return y;
}

// The matmul kernel alone on activations quantize_act already made (xq: (n_tok, act_row_bytes)),
// rows [row0, row1) of y (n_tok, n_out), with the GIL released: for benchmarks that split rows
// between Python threads as the runtime's thread pool does.
void matmul_rows(uint32_t type, U8Array w, int64_t n_out, int64_t n_in, U8Array xq,
                 py::array_t<float, py::array::c_style> y, int64_t row0, int64_t row1, const std::string& isa) {
    const KernelTable& t = table(isa);
    const MatmulKernel& k = matmul_kernel(t, type, w, n_out, n_in);
    const size_t xb = act_row_bytes(k.act, (int)n_in);
    if (xq.ndim() != 2 || (size_t)xq.shape(1) != xb) throw std::invalid_argument("xq must be (n_tok, act_row_bytes)");
    const int64_t n_tok = xq.shape(0);
    if (y.ndim() != 2 || y.shape(0) != n_tok || y.shape(1) != n_out) throw std::invalid_argument("y must be (n_tok, n_out)");
    if (row0 < 0 || row0 > row1 || row1 > n_out) throw std::invalid_argument("bad row range");
    float* out = y.mutable_data();
    py::gil_scoped_release release;
    k.fn(w.data(), row_bytes_checked(type, n_in), xq.data(), xb, out, (size_t)n_out, (int)n_in, (int)n_tok, (int)row0,
         (int)row1);
}

// W (n_out rows of `type`) -> EDGEQ_TL2 (or layout = EDGEQ_TL2D) bytes; ValueError saying why when
// not lossless.
U8Array tl_pack(uint32_t type, U8Array w, int64_t n_out, int64_t n_in, uint32_t layout) {
    const size_t rb = row_bytes_checked(type, n_in);
    if (n_out <= 0 || (size_t)w.size() != rb * n_out) throw std::invalid_argument("weight bytes do not match (n_out, n_in)");
    if (layout != EDGEQ_TL2 && layout != EDGEQ_TL2D) throw std::invalid_argument("layout must be TYPE_TL2 or TYPE_TL2D");
    U8Array out((py::ssize_t)weight_matrix_bytes(layout, (int)n_in, (int)n_out));
    std::memset(out.mutable_data(), 0, out.size());
    std::string why;
    {
        py::gil_scoped_release release;
        why = tl::pack_layout(layout, type, w.data(), rb, (int)n_in, (int)n_out, out.mutable_data());
    }
    if (!why.empty())
        throw std::invalid_argument(std::string(ggml_type_name(type)) + " -> " + ggml_type_name(layout) + ": " + why);
    return out;
}

// W (n_out rows of a legacy type) -> its x16 layout (kernels/interleave.h).
U8Array x16_pack(uint32_t type, U8Array w, int64_t n_out, int64_t n_in) {
    const uint32_t x16_type = x16::interleaved_type(type);
    if (!x16_type) throw std::invalid_argument(std::string("no x16 layout for ") + ggml_type_name(type));
    const size_t rb = row_bytes_checked(type, n_in);
    if (n_out <= 0 || (size_t)w.size() != rb * n_out) throw std::invalid_argument("weight bytes do not match (n_out, n_in)");
    U8Array out((py::ssize_t)weight_matrix_bytes(x16_type, (int)n_in, (int)n_out));
    std::memset(out.mutable_data(), 0, out.size());
    {
        py::gil_scoped_release release;
        x16::pack(type, w.data(), rb, (int)n_in, (int)n_out, out.mutable_data());
    }
    return out;
}

// The GPU matmul (backends/backend.h): same arguments and result as matmul, no isa.
F32Array cuda_matmul_py(uint32_t type, U8Array w, int64_t n_out, int64_t n_in, F32Array x, const std::string& path) {
    if (x.ndim() != 2 || x.shape(1) != n_in) throw std::invalid_argument("x must be (n_tok, n_in)");
    if (n_out <= 0 || n_out > (1 << 30) || n_in <= 0 || n_in > (1 << 30))
        throw std::invalid_argument("n_out and n_in must be in [1, 2^30]");
    const int64_t n_tok = x.shape(0);
    std::vector<float> y;
    {
        py::gil_scoped_release release;
        y = cuda_matmul(type, w.data(), (size_t)w.size(), (int)n_out, (int)n_in, x.data(), (int)n_tok, path);
    }
    F32Array out({n_tok, n_out});
    std::copy(y.begin(), y.end(), out.mutable_data());
    return out;
}

py::dict cuda_benchmark_py(uint32_t type, U8Array w, int64_t n_out, int64_t n_in, int n_tok, const std::string& path,
                           int iters) {
    CudaBenchResult r;
    {
        py::gil_scoped_release release;
        r = cuda_benchmark(type, w.data(), (size_t)w.size(), (int)n_out, (int)n_in, n_tok, path, iters);
    }
    py::dict d;
    d["path"] = r.path;
    d["device"] = r.device;
    d["seconds"] = r.seconds;
    d["weight_gbps"] = r.weight_gbps;
    d["memcpy_gbps"] = r.memcpy_gbps;
    return d;
}

}  // namespace

void bind_kernels(py::module_& m) {
    m.def("isa", [] { return std::string(kernels().name); }, "ISA of the kernel table in use");
    m.def("compiled_isas", &compiled_isas);
    m.def("runnable_isas", &runnable_isas);
    m.def("cpu_features", &cpu_features);
    m.def("cpu_model_name", &cpu_model_name);
    m.def("cuda_available", &cuda_available);
    m.def("cuda_status", &cuda_status);
    m.def("cuda_matmul", &cuda_matmul_py, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"),
          py::arg("x"), py::arg("path") = "auto",
          "Y (n_tok, n_out) = X @ W^T on the GPU for MXFP4 / NVFP4 GGUF bytes W; path auto|gemv|wmma|fp4mma. "
          "RuntimeError 'CUDA not available: <reason>' without a usable device");
    m.def("cuda_benchmark", &cuda_benchmark_py, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"),
          py::arg("n_tok") = 1, py::arg("path") = "auto", py::arg("iters") = 20,
          "Median time of one GPU matmul with resident weights: {path, device, seconds, weight_gbps, memcpy_gbps}");
    m.def("act_type_name", &act_type_name, py::arg("act"), "name of an activation format");
    m.def("type_name", [](uint32_t t) { return std::string(ggml_type_name(t)); });
    m.def("block_size", &ggml_block_size);
    m.def("type_size", &ggml_type_size);
    m.def("matmul_act_type", [](uint32_t type, const std::string& isa) {
        const KernelTable& t = table(isa);
        if (type >= kNumGgmlTypes || !t.matmul[type].fn) return -1;
        return (int)t.matmul[type].act;
    }, py::arg("type"), py::arg("isa") = "");
    m.def("matmul_kernel_isa", [](uint32_t type, const std::string& isa) {
        // The ISA whose code the table's matmul for `type` is: tables start as copies of ref and
        // each ISA overlays what it implements, so the first compiled table holding the same
        // function pointer wrote it. "" if there is no kernel for the type.
        const KernelTable& t = table(isa);
        if (type >= kNumGgmlTypes || !t.matmul[type].fn) return std::string();
        for (const std::string& name : runnable_isas())
            if (kernels_for(name).matmul[type].fn == t.matmul[type].fn) return name;
        return std::string(t.name);
    }, py::arg("type"), py::arg("isa") = "", "ISA that implements the matmul kernel for a type");
    m.def("dequantize", &dequantize, py::arg("type"), py::arg("data"), py::arg("n"), py::arg("isa") = "");
    m.def("quantize", &quantize, py::arg("type"), py::arg("x"),
          "Quantize float rows (rows, n) to GGUF bytes (rows, row bytes) with edgeq's reference weight "
          "quantizer (MXFP4, NVFP4: byte-identical to llama.cpp's quantize_row_*_ref)");
    m.def("quantize_act", &quantize_act, py::arg("act"), py::arg("x"), py::arg("isa") = "");
    m.def("matmul", &matmul, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"), py::arg("x"),
          py::arg("isa") = "", py::arg("binary_act") = false);
    m.def("matmul_rows", &matmul_rows, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"), py::arg("xq"),
          py::arg("y"), py::arg("row0"), py::arg("row1"), py::arg("isa") = "");
    m.def("tl_pack", &tl_pack, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"),
          py::arg("layout") = (uint32_t)EDGEQ_TL2);
    m.def("x16_pack", &x16_pack, py::arg("type"), py::arg("w"), py::arg("n_out"), py::arg("n_in"),
          "Q4_0 / Q4_1 / Q5_0 / Q8_0 / Q4_K / Q6_K rows -> the 16-row interleaved layout (type x16_type(type))");
    m.def("x16_type", &x16::interleaved_type, py::arg("type"), "the x16 layout's type id of a weight type, else 0");
    m.attr("TYPE_TL2") = (int)EDGEQ_TL2;
    m.attr("TYPE_TL2D") = (int)EDGEQ_TL2D;
    m.attr("ACT_I8_TOKEN") = (int)ACT_I8_TOKEN;
    m.attr("ACT_I8_LUT3") = (int)ACT_I8_LUT3;
    m.attr("ACT_I8_LUT3S") = (int)ACT_I8_LUT3S;
    m.attr("ACT_Q8_PLANES") = (int)ACT_Q8_PLANES;
    m.attr("ACT_B1") = (int)ACT_B1;
}

}  // namespace edgeq
