// _core.Model: the forward pass over zero-copy GGUF tensors. Thin: converts the Python config
// dict and tensor table, keeps the tensor arrays alive, releases the GIL during eval.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "backends/gpu_model.h"
#include "model/forward.h"

namespace py = pybind11;

namespace edgeq {
namespace {

ModelConfig config_from_dict(const py::dict& d) {
    static const std::set<std::string> known = {"arch", "n_layer", "n_embd", "n_ff", "n_head", "n_head_kv",
                                                "head_dim", "n_vocab", "rope_dim", "rope_base", "rms_eps",
                                                "rope_style", "ffn_act", "sub_norms", "matmul_scales"};
    for (auto item : d) {
        const std::string key = py::str(item.first);
        if (!known.count(key)) throw std::invalid_argument("unknown model config key '" + key + "'");
    }
    auto get_int = [&](const char* key, bool required) -> int {
        if (!d.contains(key)) {
            if (required) throw std::invalid_argument(std::string("model config is missing '") + key + "'");
            return 0;
        }
        py::object v = d[key];
        if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
            throw std::invalid_argument(std::string("model config '") + key + "' must be an int");
        const long long x = v.cast<long long>();
        if (x < 0 || x > (1LL << 30)) throw std::invalid_argument(std::string("model config '") + key + "' is out of range");
        return (int)x;
    };
    auto get_float = [&](const char* key, float def) -> float {
        if (!d.contains(key)) return def;
        py::object v = d[key];
        if (!(py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v)) || py::isinstance<py::bool_>(v))
            throw std::invalid_argument(std::string("model config '") + key + "' must be a number");
        return v.cast<float>();
    };
    ModelConfig c;
    if (d.contains("arch")) c.arch = py::str(d["arch"]);
    c.n_layer = get_int("n_layer", true);
    c.n_embd = get_int("n_embd", true);
    c.n_ff = get_int("n_ff", true);
    c.n_head = get_int("n_head", true);
    c.n_head_kv = get_int("n_head_kv", true);
    c.n_vocab = get_int("n_vocab", true);
    c.head_dim = get_int("head_dim", false);
    c.rope_dim = get_int("rope_dim", false);
    c.rope_base = get_float("rope_base", 10000.0f);
    c.rms_eps = get_float("rms_eps", 1e-5f);
    if (d.contains("rope_style")) {
        const std::string s = py::str(d["rope_style"]);
        if (s == "normal") c.rope_style = RopeStyle::Normal;
        else if (s == "neox") c.rope_style = RopeStyle::NeoX;
        else throw std::invalid_argument("model config 'rope_style' must be 'normal' or 'neox', got '" + s + "'");
    }
    if (d.contains("ffn_act")) {
        const std::string s = py::str(d["ffn_act"]);
        if (s == "silu") c.ffn_act = FfnAct::SiLU;
        else if (s == "relu2") c.ffn_act = FfnAct::ReluSqr;
        else throw std::invalid_argument("model config 'ffn_act' must be 'silu' or 'relu2', got '" + s + "'");
    }
    auto get_bool = [&](const char* key) -> bool {
        if (!d.contains(key)) return false;
        py::object v = d[key];
        if (!py::isinstance<py::bool_>(v)) throw std::invalid_argument(std::string("model config '") + key + "' must be a bool");
        return v.cast<bool>();
    };
    c.sub_norms = get_bool("sub_norms");
    c.matmul_scales = get_bool("matmul_scales");
    c.finalize();
    return c;
}

class PyModel {
public:
    PyModel(const py::dict& config, const py::dict& tensors, int n_ctx, int n_threads, const std::string& isa,
            const std::string& ternary_layout, const std::string& device) {
        if (device != "cpu" && device != "cuda")
            throw std::invalid_argument("unknown device '" + device + "' (cpu or cuda)");
        const KernelTable& kt = isa.empty() ? kernels() : kernels_for(isa);
        LoadOptions opt;
        opt.ternary_layout = parse_ternary_layout(ternary_layout);
        ModelConfig cfg = config_from_dict(config);
        TensorMap map;
        for (auto item : tensors) {
            const std::string name = py::str(item.first);
            auto fail = [&](const std::string& why) {
                throw std::invalid_argument("tensor '" + name + "': " + why);
            };
            if (!py::isinstance<py::tuple>(item.second) || py::len(item.second) != 3)
                fail("expected a tuple (type, shape, data)");
            py::tuple tup = py::reinterpret_borrow<py::tuple>(item.second);
            TensorView t;
            t.type = tup[0].cast<uint32_t>();
            for (auto dim : py::reinterpret_borrow<py::sequence>(tup[1])) t.shape.push_back(dim.cast<int64_t>());
            if (!py::isinstance<py::array>(tup[2])) fail("data must be a numpy uint8 array");
            py::array data = py::reinterpret_borrow<py::array>(tup[2]);
            if (!data.dtype().is(py::dtype::of<uint8_t>())) fail("data must be a numpy uint8 array");
            if (!(data.flags() & py::array::c_style)) fail("data must be C-contiguous");
            t.data = static_cast<const uint8_t*>(data.data());
            t.nbytes = (size_t)data.size();
            map[name] = std::move(t);
            keep_alive_.push_back(data);  // the mmap behind it must outlive the model
        }
        py::gil_scoped_release release;  // converting a layout takes a while on big models
        if (device == "cuda")
            gpu_ = std::make_unique<CudaModel>(std::move(cfg), map, n_ctx);
        else
            model_ = std::make_unique<Model>(std::move(cfg), map, n_ctx, n_threads, kt, opt);
    }

    py::array_t<float> eval(py::array_t<int32_t, py::array::c_style | py::array::forcecast> tokens, bool all_logits) {
        if (tokens.ndim() != 1) throw std::invalid_argument("tokens must be a 1-D array of token ids");
        const int n = (int)tokens.shape(0);
        if (n == 0) throw std::invalid_argument("eval needs at least one token");
        const int n_vocab = config().n_vocab;
        py::array_t<float> logits({(py::ssize_t)(all_logits ? n : 1), (py::ssize_t)n_vocab});
        const int32_t* tok = tokens.data();
        float* out = logits.mutable_data();
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mu_);
            if (gpu_) gpu_->eval(tok, n, all_logits, out);
            else model_->eval(tok, n, all_logits, out);
        }
        return logits;
    }

    int n_past() {
        std::lock_guard<std::mutex> lock(mu_);
        return gpu_ ? gpu_->n_past() : model_->n_past();
    }
    void truncate(int n) {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mu_);
        if (gpu_) gpu_->truncate(n);
        else model_->truncate(n);
    }
    void reset() {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mu_);
        if (gpu_) gpu_->reset();
        else model_->reset();
    }
    // The CPU model (null on the GPU) and the GPU one (null on the CPU): exactly one is set.
    const Model* cpu() const { return model_.get(); }
    const CudaModel* gpu() const { return gpu_.get(); }
    const ModelConfig& config() const { return gpu_ ? gpu_->config() : model_->config(); }
    int n_ctx() const { return gpu_ ? gpu_->n_ctx() : model_->n_ctx(); }

private:
    std::vector<py::object> keep_alive_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<CudaModel> gpu_;
    std::mutex mu_;
};

}  // namespace

void bind_model(py::module_& m) {
    py::class_<PyModel>(m, "Model", "A llama-style decoder over zero-copy GGUF tensors, with its KV cache")
        .def(py::init<const py::dict&, const py::dict&, int, int, const std::string&, const std::string&,
                      const std::string&>(),
             py::arg("config"), py::arg("tensors"), py::arg("n_ctx"), py::arg("n_threads"), py::arg("isa") = "",
             py::arg("ternary_layout") = "auto", py::arg("device") = "cpu",
             "isa: kernel table to use ('' = the dispatched one, as edgeq._core.isa()); ternary_layout: "
             "'auto' | 'native' | 'tl' (how TQ2_0 / TQ1_0 matrices are kept, see weights.h); device: 'cpu' or "
             "'cuda' (the whole forward pass on the GPU, backends/gpu_model.h; isa and ternary_layout then do "
             "not apply; RuntimeError 'CUDA not available: ...' without a usable device)")
        .def("eval", &PyModel::eval, py::arg("tokens"), py::arg("all_logits") = false,
             "Run tokens at positions n_past.. and append them to the cache; returns float32 logits "
             "(n, n_vocab) if all_logits else (1, n_vocab) for the last token")
        .def_property_readonly("n_past", &PyModel::n_past)
        .def_property_readonly("n_ctx", &PyModel::n_ctx)
        .def_property_readonly("n_vocab", [](const PyModel& p) { return p.config().n_vocab; })
        .def_property_readonly("n_threads", [](const PyModel& p) { return p.cpu() ? p.cpu()->n_threads() : 1; },
                               "CPU threads of the forward pass (1 on the GPU: the host thread that drives it)")
        .def_property_readonly("device", [](const PyModel& p) { return std::string(p.gpu() ? "cuda" : "cpu"); })
        .def_property_readonly("device_info", [](const PyModel& p) { return p.gpu() ? p.gpu()->summary() : std::string(); },
                               "on the GPU: the device and what the model holds there (one line); else ''")
        .def_property_readonly("isa", [](const PyModel& p) {
            return p.cpu() ? std::string(p.cpu()->kernel_table().name) : std::string("cuda");
        })
        .def_property_readonly("ternary_layout", [](const PyModel& p) {
            return p.cpu() ? p.cpu()->weights().ternary_layout : std::string("none");
        }, "'tl', 'native' or 'none' (no ternary matrices, or the GPU, which keeps every non-FP4 matrix as F16)")
        .def_property_readonly("ternary_note", [](const PyModel& p) {
            return p.cpu() ? p.cpu()->weights().ternary_note : std::string();
        }, "why ternary_layout='auto' kept the ternary matrices native, else ''")
        .def_property_readonly("tied_output", [](const PyModel& p) {
            return p.cpu() ? p.cpu()->weights().tied_output : p.gpu()->tied_output();
        })
        .def("truncate", &PyModel::truncate, py::arg("n"), "Rewind the cache to its first n positions")
        .def("reset", &PyModel::reset, "Empty the cache");
}

}  // namespace edgeq
