// The GPU backend's host-side planning (backends/gpu_plan.h), which every build compiles and which
// needs no device: which device format each matrix of a model gets and its byte count, the memory
// plan, the F16 copies of non-FP4 matrices (equal to the CPU dequantizer's values rounded to half,
// bit for bit), refusals with the tensor's name, and the RoPE table against the CPU forward's
// rope_angles. A mixed-type tiny llama is built in memory (TensorMap over owned bytes).
#include <map>
#include <stdexcept>
#include <string>

#include "backends/gpu_plan.h"
#include "model/ops.h"
#include "model/weights.h"
#include "test_util.h"

using namespace edgeq;
using test::expect_true;

namespace {

constexpr int kLayers = 2, kEmbd = 64, kFf = 128, kHead = 4, kHeadKv = 2, kVocab = 96;

// Rows of GGUF blocks with finite values: random codes, small scales where the type has one.
std::vector<uint8_t> random_matrix(uint32_t type, int n_out, int n_in) {
    const size_t row = (size_t)(n_in / ggml_block_size(type)) * ggml_type_size(type);
    std::vector<uint8_t> b(row * n_out);
    if (type == GGML_F32 || type == GGML_F16) {
        const auto v = test::random_floats((size_t)n_out * n_in, 0.1f);
        for (size_t i = 0; i < v.size(); i++) {
            if (type == GGML_F32) std::memcpy(&b[4 * i], &v[i], 4);
            else { const ggml_half h = fp32_to_fp16(v[i]); std::memcpy(&b[2 * i], &h, 2); }
        }
        return b;
    }
    b = test::random_bytes(b.size());
    if (type == GGML_Q8_0 || type == GGML_Q4_0) {  // d: the first 2 bytes of each block
        const size_t bs = ggml_type_size(type);
        for (size_t off = 0; off < b.size(); off += bs) {
            const ggml_half d = fp32_to_fp16(0.001f * (1 + off % 7));
            std::memcpy(&b[off], &d, 2);
        }
    }
    if (type == GGML_MXFP4)  // E8M0 scales near 1 (the first byte of each 17-byte block)
        for (size_t off = 0; off < b.size(); off += ggml_type_size(type)) b[off] = 120 + off % 8;
    return b;
}

struct TinyModel {
    ModelConfig cfg;
    std::map<std::string, std::vector<uint8_t>> bytes;
    TensorMap tensors;

    explicit TinyModel(bool tied) {
        cfg.n_layer = kLayers;
        cfg.n_embd = kEmbd;
        cfg.n_ff = kFf;
        cfg.n_head = kHead;
        cfg.n_head_kv = kHeadKv;
        cfg.n_vocab = kVocab;
        cfg.finalize();
        const int Q = cfg.q_dim(), KV = cfg.kv_dim();
        add_matrix("token_embd.weight", GGML_MXFP4, kVocab, kEmbd);
        for (int l = 0; l < kLayers; l++) {
            const std::string p = "blk." + std::to_string(l) + ".";
            add_vector(p + "attn_norm.weight", kEmbd);
            add_vector(p + "ffn_norm.weight", kEmbd);
            add_matrix(p + "attn_q.weight", GGML_NVFP4, Q, kEmbd);
            add_matrix(p + "attn_k.weight", GGML_Q8_0, KV, kEmbd);
            add_matrix(p + "attn_v.weight", GGML_F16, KV, kEmbd);
            add_matrix(p + "attn_output.weight", GGML_MXFP4, kEmbd, Q);
            add_matrix(p + "ffn_gate.weight", GGML_Q4_0, kFf, kEmbd);
            add_matrix(p + "ffn_up.weight", GGML_F32, kFf, kEmbd);
            add_matrix(p + "ffn_down.weight", GGML_NVFP4, kEmbd, kFf);
        }
        add_vector("output_norm.weight", kEmbd);
        if (!tied) add_matrix("output.weight", GGML_Q8_0, kVocab, kEmbd);
    }
    void add_matrix(const std::string& name, uint32_t type, int n_out, int n_in) {
        bytes[name] = random_matrix(type, n_out, n_in);
        tensors[name] = {type, {n_in, n_out}, bytes[name].data(), bytes[name].size()};
    }
    void add_vector(const std::string& name, int n) {
        bytes[name] = random_matrix(GGML_F32, 1, n);
        tensors[name] = {GGML_F32, {n}, bytes[name].data(), bytes[name].size()};
    }
};

size_t want_bytes(uint32_t type, int n_out, int n_in) {
    if (type == GGML_MXFP4) return (size_t)n_out * (n_in / 2 + n_in / 32);
    if (type == GGML_NVFP4) return (size_t)n_out * (n_in / 2 + n_in / 16);
    return (size_t)n_out * n_in * 2;
}

void test_plan(bool tied) {
    const std::string tag = tied ? " (tied)" : " (untied)";
    TinyModel m(tied);
    const ModelWeights w = load_weights(m.cfg, m.tensors, kernels(), gpu::load_options());
    const int n_ctx = 40, n_batch = 16;
    const gpu::ModelPlan plan = gpu::plan_model(m.cfg, w, n_ctx, n_batch);
    expect_true(plan.matrices.size() == (size_t)(1 + 7 * kLayers + (tied ? 0 : 1)), "matrix count" + tag);
    size_t sum = 0;
    bool ok = true;
    for (const gpu::MatrixPlan& p : plan.matrices) {
        const TensorView& t = m.tensors.at(p.name);
        const bool fp4 = t.type == GGML_MXFP4 || t.type == GGML_NVFP4;
        ok &= (p.format == gpu::WeightFormat::Fp4) == fp4 && p.m->type == t.type;
        ok &= p.device_bytes == want_bytes(t.type, (int)t.shape[1], (int)t.shape[0]);
        sum += p.device_bytes;
    }
    expect_true(ok, "format and bytes of each matrix" + tag);
    expect_true(plan.matrices.front().name == "token_embd.weight" &&
                    (tied || plan.matrices.back().name == "output.weight"),
                "matrix order" + tag);
    expect_true(plan.weight_bytes == sum, "weight bytes" + tag);
    const size_t kv_dim = (size_t)kHeadKv * (kEmbd / kHead);
    expect_true(plan.kv_bytes == 2 * (size_t)kLayers * n_ctx * kv_dim * 4, "KV bytes" + tag);
    expect_true(plan.rope_bytes == (size_t)n_ctx * (kEmbd / kHead) * 4, "rope bytes" + tag);
    expect_true(plan.vector_bytes == (size_t)(2 * kLayers + 1) * kEmbd * 4, "norm vector bytes" + tag);
    expect_true(plan.scratch_bytes >= (size_t)n_batch * (3 * kEmbd + 2 * kEmbd + 2 * kFf + kVocab) * 4,
                "scratch holds a micro-batch of activations and logits" + tag);
    expect_true(plan.total() == plan.weight_bytes + plan.vector_bytes + plan.kv_bytes + plan.rope_bytes +
                                    plan.scratch_bytes, "total" + tag);
    expect_true(plan.summary().find("FP4 matrices") != std::string::npos, "summary: " + plan.summary());
    bool threw = false;
    try {
        gpu::plan_model(m.cfg, w, n_ctx, 0);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    expect_true(threw, "n_batch = 0 is refused");
}

// Every F16 matrix of the plan: its F16 copy is the reference dequantizer's floats rounded to half.
void test_f16_copies() {
    TinyModel m(false);
    const KernelTable& ref = kernels_for("ref");
    const ModelWeights w = load_weights(m.cfg, m.tensors, kernels(), gpu::load_options());
    const gpu::ModelPlan plan = gpu::plan_model(m.cfg, w, 8, 8);
    int checked = 0;
    for (const gpu::MatrixPlan& p : plan.matrices) {
        if (p.format != gpu::WeightFormat::F16) continue;
        const Matrix& mat = *p.m;
        const std::vector<uint16_t> got = gpu::dequantize_f16(mat, kernels(), p.name);
        std::vector<uint16_t> want((size_t)mat.n_out * mat.n_in);
        std::vector<float> row(mat.n_in);
        for (int r = 0; r < mat.n_out; r++) {
            ref.dequantize_row[mat.type](mat.data + r * mat.row_bytes, row.data(), mat.n_in);
            for (int k = 0; k < mat.n_in; k++) want[(size_t)r * mat.n_in + k] = fp32_to_fp16(row[k]);
        }
        test::expect_bytes_equal((const uint8_t*)got.data(), (const uint8_t*)want.data(), got.size() * 2,
                                 "F16 copy of " + p.name + " (" + ggml_type_name(mat.type) + ")");
        if (mat.type == GGML_F16)  // an F16 file's copy is its own bytes
            test::expect_bytes_equal((const uint8_t*)got.data(), mat.data, got.size() * 2, "F16 copy is the file's");
        checked++;
    }
    expect_true(checked == 4 * kLayers + 1, "F16 matrices checked: " + std::to_string(checked));

    // A value past the half range is refused, naming the tensor.
    std::vector<float> big(64, 1.0f);
    big[37] = 1e6f;
    Matrix bm;
    bm.type = GGML_F32;
    bm.n_in = 64;
    bm.n_out = 1;
    bm.row_bytes = 256;
    bm.data = (const uint8_t*)big.data();
    std::string msg;
    try {
        gpu::dequantize_f16(bm, kernels(), "blk.3.ffn_up.weight");
    } catch (const std::invalid_argument& e) {
        msg = e.what();
    }
    expect_true(msg.find("blk.3.ffn_up.weight") != std::string::npos && msg.find("(0, 37)") != std::string::npos,
                "out-of-range F16 refused: '" + msg + "'");
}

void test_rope_table() {
    const int R = 16, n_ctx = 33;
    const std::vector<float> freqs = {1.0f, 2.0f, 1.0f, 4.0f, 1.0f, 1.0f, 8.0f, 1.0f};
    const std::vector<float> inv = ops::rope_inv_freq(R, 10000.0f, freqs);
    bool ok = inv.size() == R / 2;
    for (int i = 0; i < R / 2 && ok; i++)
        ok &= std::fabs(inv[i] - (float)(std::pow(10000.0, -2.0 * i / R) / freqs[i])) <= 1e-7f * inv[i];
    expect_true(ok, "rope_inv_freq = base^(-2i/d) / rope_freqs");
    const std::vector<float> table = gpu::rope_table(inv, R, n_ctx);
    std::vector<float> cs(R);
    for (int pos : {0, 1, 17, 32}) {
        ops::rope_angles(cs.data(), inv.data(), R, pos);
        test::expect_bits_equal(&table[(size_t)pos * R], cs.data(), R, "rope table at " + std::to_string(pos));
    }
}

}  // namespace

int main() {
    test_plan(false);
    test_plan(true);
    test_f16_copies();
    test_rope_table();
    return test::finish("test_gpu_plan");
}
