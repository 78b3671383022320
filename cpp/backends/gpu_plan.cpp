#include "backends/gpu_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "model/ops.h"

namespace edgeq::gpu {

WeightFormat weight_format(uint32_t type) {
    return type == GGML_MXFP4 || type == GGML_NVFP4 ? WeightFormat::Fp4 : WeightFormat::F16;
}

const char* weight_format_name(WeightFormat f) { return f == WeightFormat::Fp4 ? "FP4" : "F16"; }

namespace {

// Device bytes of a matrix: FP4 codes (n_in / 2 per row) + one scale byte per group; F16 halfs.
size_t device_bytes(const Matrix& m) {
    if (weight_format(m.type) == WeightFormat::F16) return (size_t)m.n_out * m.n_in * 2;
    const size_t group = m.type == GGML_MXFP4 ? QK_MXFP4 : QK_NVFP4_SUB;
    return (size_t)m.n_out * (m.n_in / 2 + m.n_in / group);
}

std::string gib(size_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / 1073741824.0);
    return buf;
}

}  // namespace

std::string ModelPlan::summary() const {
    int n_fp4 = 0, n_f16 = 0;
    for (const MatrixPlan& p : matrices) (p.format == WeightFormat::Fp4 ? n_fp4 : n_f16)++;
    return gib(total()) + " on the device: weights " + gib(weight_bytes) + " (" + std::to_string(n_fp4) +
           " FP4 matrices, " + std::to_string(n_f16) + " F16), KV cache " + gib(kv_bytes) + ", scratch " +
           gib(scratch_bytes + rope_bytes + vector_bytes);
}

ModelPlan plan_model(const ModelConfig& cfg, const ModelWeights& w, int n_ctx, int n_batch) {
    if (n_ctx <= 0) throw std::invalid_argument("n_ctx must be positive, got " + std::to_string(n_ctx));
    if (n_batch <= 0) throw std::invalid_argument("n_batch must be positive, got " + std::to_string(n_batch));
    ModelPlan plan;
    plan.n_batch = n_batch;
    auto add = [&](const std::string& name, const Matrix& m) {
        plan.matrices.push_back({name, &m, weight_format(m.type), device_bytes(m)});
        plan.weight_bytes += plan.matrices.back().device_bytes;
    };
    add("token_embd.weight", w.token_embd);
    size_t vectors = 0;
    for (size_t l = 0; l < w.layers.size(); l++) {
        const LayerWeights& L = w.layers[l];
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_q.weight", L.wq);
        add(p + "attn_k.weight", L.wk);
        add(p + "attn_v.weight", L.wv);
        add(p + "attn_output.weight", L.wo);
        add(p + "ffn_gate.weight", L.w_gate);
        add(p + "ffn_up.weight", L.w_up);
        add(p + "ffn_down.weight", L.w_down);
        vectors += L.attn_norm.size() + L.ffn_norm.size() + L.attn_sub_norm.size() + L.ffn_sub_norm.size();
    }
    if (!w.tied_output) add("output.weight", w.output);
    vectors += w.output_norm.size();
    plan.vector_bytes = vectors * sizeof(float);
    plan.kv_bytes = 2 * (size_t)cfg.n_layer * n_ctx * cfg.kv_dim() * sizeof(float);
    plan.rope_bytes = (size_t)n_ctx * cfg.rope_dim * sizeof(float);
    // x, xb, y (D); q, att (Q); gate, up (F); logits (V) per token; token ids; the FP4 W4A4
    // path's quantized activations (codes n_in / 2 + scales n_in / 16 bytes per token, widest input).
    const size_t per_token = 3 * (size_t)cfg.n_embd + 2 * (size_t)cfg.q_dim() + 2 * (size_t)cfg.n_ff + cfg.n_vocab;
    const size_t widest = (size_t)std::max(std::max(cfg.n_embd, cfg.q_dim()), cfg.n_ff);
    plan.scratch_bytes = (size_t)n_batch * (per_token * sizeof(float) + sizeof(int32_t) + widest / 2 + widest / 16) + 16;
    return plan;
}

std::vector<uint16_t> dequantize_f16(const Matrix& m, const KernelTable& kt, const std::string& name) {
    const DequantizeRowFn deq = m.type < (uint32_t)kNumGgmlTypes ? kt.dequantize_row[m.type] : nullptr;
    if (!deq)
        throw std::invalid_argument("tensor '" + name + "': type " + ggml_type_name(m.type) +
                                    " cannot be dequantized for the GPU");
    std::vector<uint16_t> out((size_t)m.n_out * m.n_in);
    std::vector<float> row(m.n_in);
    for (int r = 0; r < m.n_out; r++) {
        deq(m.data + (size_t)r * m.row_bytes, row.data(), m.n_in);
        uint16_t* dst = out.data() + (size_t)r * m.n_in;
        for (int k = 0; k < m.n_in; k++) {
            if (!(std::fabs(row[k]) <= 65504.0f))
                throw std::invalid_argument("tensor '" + name + "': value " + std::to_string(row[k]) + " at (" +
                                            std::to_string(r) + ", " + std::to_string(k) +
                                            ") does not fit the GPU's F16 copy");
            dst[k] = fp32_to_fp16(row[k]);
        }
    }
    return out;
}

std::vector<float> rope_table(const std::vector<float>& inv_freq, int rope_dim, int n_ctx) {
    std::vector<float> t((size_t)n_ctx * rope_dim);
    for (int pos = 0; pos < n_ctx; pos++) ops::rope_angles(&t[(size_t)pos * rope_dim], inv_freq.data(), rope_dim, pos);
    return t;
}

}  // namespace edgeq::gpu
