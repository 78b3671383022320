// CudaModel (backends/gpu_model.h): the forward pass of model/forward.cpp on the GPU, step for
// step, with the device operations of gpu_ops.h. Shapes: D = n_embd, Q = q_dim, KV = kv_dim,
// F = n_ff, V = n_vocab; activations row-major (token, feature) in device scratch sized for one
// micro-batch of n_batch tokens.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/cuda/fp4_layout.h"
#include "backends/cuda/gpu_ops.h"
#include "backends/cuda/gpu_runtime.h"
#include "backends/gpu_model.h"
#include "backends/gpu_plan.h"
#include "model/ops.h"

namespace edgeq {

using gpu::DeviceBuffer;
using gpu::DeviceWeight;

namespace {
constexpr int kMaxBatch = 256;  // tokens per micro-batch, as the CPU forward

ModelConfig finalized(ModelConfig c) {
    c.finalize();
    return c;
}

std::string mib(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }
}  // namespace

struct CudaModel::Impl {
    ModelConfig cfg;
    int n_ctx = 0, n_batch = 0, n_past = 0;
    bool tied = false;
    gpu::ModelPlan plan;
    std::string summary;

    std::vector<DeviceBuffer> owned;        // every weight and norm buffer
    std::vector<gpu::DeviceFp4Matrix> fp4;  // FP4 matrices (own their codes / scales)
    DeviceWeight embd, output;
    struct Layer {
        DeviceWeight wq, wk, wv, wo, w_gate, w_up, w_down;
        const float *attn_norm = nullptr, *ffn_norm = nullptr, *attn_sub_norm = nullptr, *ffn_sub_norm = nullptr;
    };
    std::vector<Layer> layers;
    const float* output_norm = nullptr;
    DeviceBuffer k_cache, v_cache, rope;
    // Scratch (floats unless noted): x, xb, y (B, D); q, att (B, Q); gate, up (B, F); logits (B, V).
    DeviceBuffer x, xb, y, q, att, gate, up, logits, tokens, act_scratch;

    Impl(ModelConfig c, const TensorMap& tensors, int n_ctx_) : cfg(finalized(std::move(c))), n_ctx(n_ctx_) {
        const gpu::Probe& dev = gpu::probe();
        if (!dev.ok) gpu::unavailable();
        if (n_ctx <= 0) throw std::invalid_argument("n_ctx must be positive, got " + std::to_string(n_ctx));
        if (cfg.head_dim > 8 * kGpuWarp)
            throw std::invalid_argument("the CUDA forward takes head_dim <= " + std::to_string(8 * kGpuWarp) +
                                        ", the model has " + std::to_string(cfg.head_dim));
        // The CPU loader validates every tensor; ternary matrices stay in their file type (the
        // GPU copy is dequantized from it).
        const KernelTable& kt = kernels();
        const ModelWeights w = load_weights(cfg, tensors, kt, gpu::load_options());
        tied = w.tied_output;
        n_batch = std::min(kMaxBatch, n_ctx);
        plan = gpu::plan_model(cfg, w, n_ctx, n_batch);
        size_t free_bytes = 0, total_bytes = 0;
        gpu::check(gpuMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
        if (plan.total() > free_bytes)
            throw std::runtime_error("the model needs " + mib(plan.total()) + " on the GPU (" + plan.summary() + "), " +
                                     mib(free_bytes) + " of " + mib(total_bytes) + " are free (try a smaller n_ctx)");
        upload(w, kt);
        summary = dev.status + "; " + plan.summary();
        for (gpu::MatrixPlan& p : plan.matrices) p.m = nullptr;  // the host weights go away with w
    }

    DeviceWeight upload_matrix(const gpu::MatrixPlan& p, const KernelTable& kt) {
        const Matrix& m = *p.m;
        DeviceWeight d;
        d.format = p.format;
        d.n_out = m.n_out;
        d.n_in = m.n_in;
        d.scale = m.scale;
        if (p.format == gpu::WeightFormat::Fp4) {
            fp4.emplace_back(m.type, m.data, m.row_bytes * m.n_out, m.n_out, m.n_in);
            d.fp4 = fp4.back().view;
        } else {
            const std::vector<uint16_t> h = gpu::dequantize_f16(m, kt, p.name);
            owned.push_back(DeviceBuffer::upload(h.data(), h.size() * 2, "upload F16 weights"));
            d.f16 = owned.back().as<uint16_t>();
        }
        return d;
    }

    const float* upload_vector(const std::vector<float>& v) {
        if (v.empty()) return nullptr;
        owned.push_back(DeviceBuffer::upload(v.data(), v.size() * sizeof(float), "upload norm weights"));
        return owned.back().as<float>();
    }

    void upload(const ModelWeights& w, const KernelTable& kt) {
        size_t i = 0;
        embd = upload_matrix(plan.matrices[i++], kt);
        layers.resize(cfg.n_layer);
        for (int l = 0; l < cfg.n_layer; l++) {
            Layer& L = layers[l];
            for (DeviceWeight* d : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
                *d = upload_matrix(plan.matrices[i++], kt);
            const LayerWeights& H = w.layers[l];
            L.attn_norm = upload_vector(H.attn_norm);
            L.ffn_norm = upload_vector(H.ffn_norm);
            L.attn_sub_norm = upload_vector(H.attn_sub_norm);
            L.ffn_sub_norm = upload_vector(H.ffn_sub_norm);
        }
        output = tied ? embd : upload_matrix(plan.matrices[i++], kt);
        output_norm = upload_vector(w.output_norm);
        const size_t kv = (size_t)cfg.n_layer * n_ctx * cfg.kv_dim() * sizeof(float);
        k_cache = DeviceBuffer(kv);
        v_cache = DeviceBuffer(kv);
        const std::vector<float> table =
            gpu::rope_table(ops::rope_inv_freq(cfg.rope_dim, cfg.rope_base, w.rope_freqs), cfg.rope_dim, n_ctx);
        rope = DeviceBuffer::upload(table.data(), table.size() * sizeof(float), "upload rope table");
        const size_t B = n_batch, f = sizeof(float);
        const int D = cfg.n_embd, Q = cfg.q_dim(), F = cfg.n_ff;
        x = DeviceBuffer(B * D * f);
        xb = DeviceBuffer(B * D * f);
        y = DeviceBuffer(B * D * f);
        q = DeviceBuffer(B * Q * f);
        att = DeviceBuffer(B * Q * f);
        gate = DeviceBuffer(B * F * f);
        up = DeviceBuffer(B * F * f);
        logits = DeviceBuffer(B * cfg.n_vocab * f);
        tokens = DeviceBuffer(B * sizeof(int32_t));
        const int widest = std::max(std::max(D, Q), F);
        act_scratch = DeviceBuffer(B * (widest / 2 + widest / 16) + 16);
        gpu::check(gpuDeviceSynchronize(), "upload");
    }

    float* k_at(int l, int pos) const { return k_cache.as<float>() + ((size_t)l * n_ctx + pos) * cfg.kv_dim(); }
    float* v_at(int l, int pos) const { return v_cache.as<float>() + ((size_t)l * n_ctx + pos) * cfg.kv_dim(); }

    void mm(const DeviceWeight& W, const float* X, float* Y, int n) {
        gpu::matmul(W, X, Y, n, act_scratch.as<uint8_t>());
    }

    // forward.cpp's forward_batch: n tokens at positions n_past.., logits (host) of every token or
    // the last one, or none (logits null).
    void forward_batch(const int32_t* tok, int n, float* host_logits, bool all_logits) {
        const ModelConfig& c = cfg;
        const int D = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
        const int pos0 = n_past;
        float *X = x.as<float>(), *XB = xb.as<float>(), *Y = y.as<float>(), *QB = q.as<float>(),
              *ATT = att.as<float>(), *G = gate.as<float>(), *U = up.as<float>();
        gpu::check(gpuMemcpy(tokens.p, tok, (size_t)n * sizeof(int32_t), gpuMemcpyHostToDevice), "upload tokens");
        gpu::embed_rows(embd, tokens.as<int32_t>(), n, X);
        const float* cs = rope.as<float>() + (size_t)pos0 * c.rope_dim;
        const float* pending = nullptr;  // the last block's output, not yet added to X
        for (int l = 0; l < c.n_layer; l++) {
            const Layer& L = layers[l];
            // Attention: xb = rmsnorm(x); q, k, v (k, v into the cache); rope; attention;
            // [sub-norm]; x += att Wo^T (added by the next norm).
            gpu::rmsnorm(XB, X, pending, L.attn_norm, n, D, c.rms_eps);
            mm(L.wq, XB, QB, n);
            mm(L.wk, XB, k_at(l, pos0), n);
            mm(L.wv, XB, v_at(l, pos0), n);
            gpu::rope(QB, Q, c.n_head, k_at(l, pos0), KV, c.n_head_kv, n, c.head_dim, c.rope_dim, cs,
                      c.rope_style == RopeStyle::NeoX);
            gpu::attention(QB, k_at(l, 0), v_at(l, 0), ATT, n, pos0, c.n_head, c.n_head_kv, c.head_dim);
            if (c.sub_norms) gpu::rmsnorm(ATT, ATT, nullptr, L.attn_sub_norm, n, Q, c.rms_eps);
            mm(L.wo, ATT, Y, n);
            // FFN: xb = rmsnorm(x += y); h = act(xb Wg^T) * (xb Wu^T); [sub-norm]; y = h Wd^T.
            gpu::rmsnorm(XB, X, Y, L.ffn_norm, n, D, c.rms_eps);
            mm(L.w_gate, XB, G, n);
            mm(L.w_up, XB, U, n);
            gpu::ffn_gate(G, U, (size_t)n * F, c.ffn_act == FfnAct::ReluSqr);
            if (c.sub_norms) gpu::rmsnorm(G, G, nullptr, L.ffn_sub_norm, n, F, c.rms_eps);
            mm(L.w_down, G, Y, n);
            pending = Y;
        }
        if (!host_logits) {  // the residual stream is not read again: the last add can wait
            gpu::check(gpuDeviceSynchronize(), "forward");
            return;
        }
        const int first = all_logits ? 0 : n - 1, m = n - first;
        gpu::rmsnorm(XB, X + (size_t)first * D, Y + (size_t)first * D, output_norm, m, D, c.rms_eps);
        mm(output, XB, logits.as<float>(), m);
        gpu::check(gpuMemcpy(host_logits, logits.p, (size_t)m * c.n_vocab * sizeof(float), gpuMemcpyDeviceToHost),
                   "download logits");
    }
};

CudaModel::CudaModel(ModelConfig cfg, const TensorMap& tensors, int n_ctx)
    : impl_(std::make_unique<Impl>(std::move(cfg), tensors, n_ctx)) {}
CudaModel::~CudaModel() = default;

void CudaModel::eval(const int32_t* tokens, int n, bool all_logits, float* logits) {
    Impl& m = *impl_;
    if (n <= 0) throw std::invalid_argument("eval needs at least one token");
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m.cfg.n_vocab)
            throw std::invalid_argument("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                        " is out of range [0, " + std::to_string(m.cfg.n_vocab) + ")");
    if ((long)m.n_past + n > m.n_ctx)
        throw std::length_error("context is full: " + std::to_string(m.n_past) + " positions used + " +
                                std::to_string(n) + " new tokens > n_ctx = " + std::to_string(m.n_ctx));
    for (int done = 0; done < n; done += m.n_batch) {
        const int b = std::min(m.n_batch, n - done);
        const bool last = done + b == n;
        float* out = all_logits ? logits + (size_t)done * m.cfg.n_vocab : (last ? logits : nullptr);
        m.forward_batch(tokens + done, b, out, all_logits);
        m.n_past += b;
    }
}

int CudaModel::n_past() const { return impl_->n_past; }
int CudaModel::n_ctx() const { return impl_->n_ctx; }
void CudaModel::truncate(int n) {
    if (n < 0 || n > impl_->n_past)
        throw std::out_of_range("truncate(" + std::to_string(n) + "): must be in [0, n_past = " +
                                std::to_string(impl_->n_past) + "]");
    impl_->n_past = n;
}
void CudaModel::reset() { impl_->n_past = 0; }
const ModelConfig& CudaModel::config() const { return impl_->cfg; }
bool CudaModel::tied_output() const { return impl_->tied; }
std::string CudaModel::summary() const { return impl_->summary; }

}  // namespace edgeq
