#include "model/weights.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "model/i2s.h"
#include "model/interleave_layout.h"
#include "model/ternary_layout.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace edgeq {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
    throw std::invalid_argument("tensor '" + name + "': " + problem);
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

const TensorView& find(const TensorMap& tensors, const std::string& name) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw std::invalid_argument("missing tensor '" + name + "'");
    return it->second;
}

// Bytes a tensor of this type and GGUF shape must occupy; checks the row length fits the block.
size_t expected_bytes(const std::string& name, const TensorView& t) {
    const int bs = ggml_block_size(t.type);
    if (is_internal_type(t.type)) fail(name, "type " + std::to_string(t.type) + " is an edgeq-internal layout, not a file type");
    if (bs == 0) fail(name, "unknown tensor type " + std::to_string(t.type));
    if (t.shape.empty()) fail(name, "has no dimensions");
    for (int64_t d : t.shape)
        if (d <= 0) fail(name, "has a non-positive dimension " + shape_str(t.shape));
    if (t.shape[0] % bs != 0)
        fail(name, "row length " + std::to_string(t.shape[0]) + " is not a multiple of the " +
                       ggml_type_name(t.type) + " block size " + std::to_string(bs));
    size_t rows = 1;
    for (size_t i = 1; i < t.shape.size(); i++) rows *= (size_t)t.shape[i];
    return rows * (size_t)(t.shape[0] / bs) * ggml_type_size(t.type);
}

void check_bytes(const std::string& name, const TensorView& t) {
    const size_t want = expected_bytes(name, t);
    if (t.data == nullptr) fail(name, "has no data");
    if (t.nbytes != want)
        fail(name, std::string(ggml_type_name(t.type)) + " " + shape_str(t.shape) + " needs " + std::to_string(want) +
                       " bytes, got " + std::to_string(t.nbytes));
}

// EDGEQ_Q1_0_ACT=binary: Q1_0 matrices use the XNOR-popcount kernel with binarized activations
// (ACT_B1, kernels.h) instead of int8 ones: faster, and a coarser result. Any other value but
// "int8" (the default) is refused.
bool q1_0_binary_activations() {
    const char* v = std::getenv("EDGEQ_Q1_0_ACT");
    if (!v || !*v || std::strcmp(v, "int8") == 0) return false;
    if (std::strcmp(v, "binary") == 0) return true;
    throw std::runtime_error(std::string("EDGEQ_Q1_0_ACT must be 'int8' or 'binary', got '") + v + "'");
}

// A matrix W (n_out, n_in): GGUF shape [n_in, n_out] (a 2-D shape with trailing 1s is accepted).
// need_matmul = false: only rows are read (dequantized), no matmul kernel is required.
// I2_S matrices are converted into TQ2_0 that `w` owns (i2s.h); their tensor scale, when it is not
// an fp16 value, becomes the matrix's output scale.
Matrix load_matrix(const TensorMap& tensors, const std::string& name, int n_in, int n_out, const KernelTable& kt,
                   ModelWeights& w, bool need_matmul = true) {
    TensorView t = find(tensors, name);
    float output_scale = 1.0f;
    if (t.type == GGML_I2_S) t = i2s_to_tq2_0(name, t, w, &output_scale);
    check_bytes(name, t);
    for (size_t i = 2; i < t.shape.size(); i++)
        if (t.shape[i] != 1) fail(name, "expected a matrix, got shape " + shape_str(t.shape));
    const int64_t rows = t.shape.size() > 1 ? t.shape[1] : 1;
    if (t.shape[0] != n_in || rows != n_out)
        fail(name, "expected shape [" + std::to_string(n_in) + ", " + std::to_string(n_out) + "], got " +
                       shape_str(t.shape));
    if (t.type >= (uint32_t)kNumGgmlTypes) fail(name, "unknown tensor type " + std::to_string(t.type));
    Matrix m;
    m.type = t.type;
    m.n_in = n_in;
    m.n_out = n_out;
    m.row_bytes = (size_t)(n_in / ggml_block_size(t.type)) * ggml_type_size(t.type);
    m.data = t.data;
    m.scale = output_scale;
    if (!need_matmul) return m;
    if (!kt.matmul[t.type].fn)
        fail(name, std::string("type ") + ggml_type_name(t.type) + " has no matmul kernel (ISA " + kt.name + ")");
    const MatmulKernel& k = t.type == GGML_Q1_0 && q1_0_binary_activations() ? kt.q1_0_binary_act : kt.matmul[t.type];
    if (!kt.quantize_act[k.act] && k.act != ACT_F32)
        fail(name, std::string("no activation quantizer for the ") + ggml_type_name(t.type) + " kernel");
    m.act = k.act;
    m.fn = k.fn;
    // The activation row of n_in values must be whole blocks of the activation format.
    const int act_block = act_block_size(k.act);
    if (n_in % act_block != 0)
        fail(name, "row length " + std::to_string(n_in) + " is not a multiple of the activation block " +
                       std::to_string(act_block));
    return m;
}

// A vector of n values (F32, F16 or BF16 in the file) -> float.
std::vector<float> load_vector(const TensorMap& tensors, const std::string& name, int n, const KernelTable& kt) {
    const TensorView& t = find(tensors, name);
    check_bytes(name, t);
    int64_t total = 1;
    for (int64_t d : t.shape) total *= d;
    if (t.shape[0] != n || total != n)
        fail(name, "expected shape [" + std::to_string(n) + "], got " + shape_str(t.shape));
    if (t.type >= (uint32_t)kNumGgmlTypes || !kt.dequantize_row[t.type])
        fail(name, std::string("type ") + ggml_type_name(t.type) + " cannot be converted to float");
    std::vector<float> v(n);
    kt.dequantize_row[t.type](t.data, v.data(), n);
    return v;
}

// The optional per-tensor output scale `<name>.scale` of a matrix: BitNet's (when the model has
// per-matrix scales) and NVFP4's (ModelOpt's weight_scale_2, as llama.cpp loads it), y = scale * (W x).
// It multiplies m.scale, which may already hold an I2_S tensor scale not folded into the blocks.
void load_scale(const ModelConfig& cfg, const TensorMap& tensors, const std::string& name, Matrix& m,
                const KernelTable& kt) {
    const std::string scale = name + ".scale";
    if ((cfg.matmul_scales || m.type == GGML_NVFP4) && tensors.count(scale)) {
        const float s = load_vector(tensors, scale, 1, kt)[0];
        if (!std::isfinite(s)) fail(scale, "is not a finite number");
        m.scale *= s;
    }
}

// A projection `<p><base>.weight`, with its `<p><base>.scale` (see load_scale).
Matrix load_projection(const ModelConfig& cfg, const TensorMap& tensors, const std::string& p, const std::string& base,
                       int n_in, int n_out, const KernelTable& kt, ModelWeights& w) {
    Matrix m = load_matrix(tensors, p + base + ".weight", n_in, n_out, kt, w);
    load_scale(cfg, tensors, p + base, m, kt);
    return m;
}

constexpr size_t kHugePage = (size_t)2 << 20;

void advise_huge_pages(void* p, size_t n) {
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);  // advisory: no error if THP is off
#else
    (void)p, (void)n;
#endif
}

}  // namespace

std::vector<std::pair<Matrix*, std::string>> projection_matrices(ModelWeights& w) {
    std::vector<std::pair<Matrix*, std::string>> out;
    for (size_t l = 0; l < w.layers.size(); l++) {
        LayerWeights& L = w.layers[l];
        const std::string p = "blk." + std::to_string(l) + ".";
        for (auto [m, base] : {std::pair{&L.wq, "attn_q"}, {&L.wk, "attn_k"}, {&L.wv, "attn_v"},
                               {&L.wo, "attn_output"}, {&L.w_gate, "ffn_gate"}, {&L.w_up, "ffn_up"},
                               {&L.w_down, "ffn_down"}})
            out.emplace_back(m, p + base + ".weight");
    }
    if (!w.tied_output) out.emplace_back(&w.output, "output.weight");
    return out;
}

uint8_t* ModelWeights::allocate(size_t nbytes) {
    // Big buffers start on a 2 MiB boundary and ask for transparent huge pages: a decode step
    // streams every weight once, and 4 KiB pages cost a TLB miss per page (huge pages measured
    // ~5% more read bandwidth on the development machine, bench/README.md).
    const size_t align = nbytes >= kHugePage ? kHugePage : 64;
    const size_t rounded = (nbytes + align - 1) / align * align;  // aligned_alloc wants a multiple of the alignment
    void* p = std::aligned_alloc(align, rounded ? rounded : 64);
    if (!p) throw std::bad_alloc();
    if (align == kHugePage) advise_huge_pages(p, rounded);
    std::memset(p, 0, rounded);
    owned.emplace_back((uint8_t*)p, [](uint8_t* q) { std::free(q); });
    return (uint8_t*)p;
}

ModelWeights load_weights(const ModelConfig& cfg, const TensorMap& tensors, const KernelTable& kt,
                          const LoadOptions& opt) {
    ModelWeights w;
    const bool tied = tensors.count("output.weight") == 0;
    {
        const std::string name = "token_embd.weight";
        // The lookup dequantizes rows, which cannot apply an I2_S tensor scale (bitnet.cpp keeps the
        // embedding in F16 anyway).
        if (find(tensors, name).type == GGML_I2_S) fail(name, "I2_S is supported for the matmul weights only");
        // Tied: it is also the output matrix, which needs a matmul kernel.
        w.token_embd = load_matrix(tensors, name, cfg.n_embd, cfg.n_vocab, kt, w, tied);
        w.embd_row = kt.dequantize_row[w.token_embd.type];
        if (!w.embd_row) fail(name, std::string("type ") + ggml_type_name(w.token_embd.type) + " cannot be dequantized");
    }
    w.layers.resize(cfg.n_layer);
    for (int l = 0; l < cfg.n_layer; l++) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[l];
        L.attn_norm = load_vector(tensors, p + "attn_norm.weight", cfg.n_embd, kt);
        L.wq = load_projection(cfg, tensors, p, "attn_q", cfg.n_embd, cfg.q_dim(), kt, w);
        L.wk = load_projection(cfg, tensors, p, "attn_k", cfg.n_embd, cfg.kv_dim(), kt, w);
        L.wv = load_projection(cfg, tensors, p, "attn_v", cfg.n_embd, cfg.kv_dim(), kt, w);
        L.wo = load_projection(cfg, tensors, p, "attn_output", cfg.q_dim(), cfg.n_embd, kt, w);
        L.ffn_norm = load_vector(tensors, p + "ffn_norm.weight", cfg.n_embd, kt);
        L.w_gate = load_projection(cfg, tensors, p, "ffn_gate", cfg.n_embd, cfg.n_ff, kt, w);
        L.w_up = load_projection(cfg, tensors, p, "ffn_up", cfg.n_embd, cfg.n_ff, kt, w);
        L.w_down = load_projection(cfg, tensors, p, "ffn_down", cfg.n_ff, cfg.n_embd, kt, w);
        if (cfg.sub_norms) {
            L.attn_sub_norm = load_vector(tensors, p + "attn_sub_norm.weight", cfg.q_dim(), kt);
            L.ffn_sub_norm = load_vector(tensors, p + "ffn_sub_norm.weight", cfg.n_ff, kt);
        }
    }
    w.output_norm = load_vector(tensors, "output_norm.weight", cfg.n_embd, kt);
    if (!tied) {
        w.output = load_matrix(tensors, "output.weight", cfg.n_embd, cfg.n_vocab, kt, w);
        if (w.output.type == GGML_NVFP4) load_scale(cfg, tensors, "output", w.output, kt);  // as llama.cpp
    } else {
        w.output = w.token_embd;
        w.tied_output = true;
    }
    if (tensors.count("rope_freqs.weight"))
        w.rope_freqs = load_vector(tensors, "rope_freqs.weight", cfg.rope_dim / 2, kt);
    apply_ternary_layout(w, opt.ternary_layout, kt);
    if (opt.interleave) apply_interleaved_layout(w, kt);
    return w;
}

}  // namespace edgeq
