// The forward pass of a llama-style decoder over a batch of n tokens, read top to bottom like
// llama2.c's forward(). Shapes: D = n_embd, Q = n_head * head_dim, KV = n_head_kv * head_dim,
// F = n_ff, V = n_vocab; activations are row-major (token, feature).
#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "model/ops.h"

namespace edgeq {

namespace {
ModelConfig finalized(ModelConfig c) {
    c.finalize();
    return c;
}
constexpr int kMaxBatch = 256;       // tokens per micro-batch of a long prompt
constexpr int kTasksPerThread = 8;   // matmul chunks per thread (dynamic: evens out slow cores)
constexpr size_t kMinTaskWork = 256 << 10;  // weight bytes x tokens per matmul chunk, at least (tg64 2 threads: +12%)
constexpr int kRowAlign = 16;        // chunk boundaries, in output rows (and multiples of every row tile)
}  // namespace

Model::Model(ModelConfig cfg, const TensorMap& tensors, int n_ctx, int n_threads, const KernelTable& kt,
             const LoadOptions& opt)
    : cfg_(finalized(std::move(cfg))),
      kt_(kt),
      w_(load_weights(cfg_, tensors, kt, opt)),
      cache_(cfg_.n_layer, n_ctx, cfg_.kv_dim()),
      pool_(n_threads),
      n_batch_(std::min(kMaxBatch, n_ctx)) {
    if (!kt_.dot_f32 || !kt_.axpy_f32)
        throw std::runtime_error(std::string("kernel table '") + kt_.name + "' lacks dot_f32 / axpy_f32");
    const int D = cfg_.n_embd, Q = cfg_.q_dim(), F = cfg_.n_ff, B = n_batch_;
    x_.resize((size_t)B * D);
    xb_.resize((size_t)B * D);
    q_.resize((size_t)B * Q);
    att_.resize((size_t)B * Q);
    gate_.resize((size_t)B * F);
    up_.resize((size_t)B * F);
    scores_.resize((size_t)n_threads * n_ctx);
    rope_cs_.resize((size_t)B * cfg_.rope_dim);

    inv_freq_ = ops::rope_inv_freq(cfg_.rope_dim, cfg_.rope_base, w_.rope_freqs);

    // One quantized-activation buffer per format in use, wide enough for its widest input.
    size_t act_bytes[kNumActTypes] = {};
    auto need = [&](const Matrix& m) {
        act_bytes[m.act] = std::max(act_bytes[m.act], act_row_bytes(m.act, m.n_in));
        if (m.prefill_min_tokens > 0)  // the prefill form's activations too
            act_bytes[m.prefill.act] = std::max(act_bytes[m.prefill.act], act_row_bytes(m.prefill.act, m.n_in));
    };
    for (const LayerWeights& L : w_.layers)
        for (const Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) need(*m);
    need(w_.output);
    for (int a = 0; a < kNumActTypes; a++)
        if (a != ACT_F32 && act_bytes[a]) act_[a].resize((size_t)B * act_bytes[a]);
}

template <class F>
void Model::for_tokens(int n, F&& fn) {
    if (n >= 8 && pool_.size() > 1)
        pool_.parallel_for(n, [&](int t, int) { fn(t); });
    else
        for (int t = 0; t < n; t++) fn(t);
}

void Model::set_input(const float* x, int n_tok, int dim) {
    in_.x = x;
    in_.n_tok = n_tok;
    in_.dim = dim;
    std::fill(std::begin(in_.ready), std::end(in_.ready), false);
}

void Model::matmuls(std::initializer_list<MatmulOut> outs) {
    struct Part {
        const Matrix* w;
        Matrix::Form form;  // the stored form this batch multiplies with
        float* y;
        size_t ldy;
        const void* xq;
        size_t x_row_bytes;
        int first_task;
    };
    // A matrix's main form, or its prefill form for a batch big enough (Matrix::prefill).
    auto form_of = [&](const Matrix& w) {
        if (w.prefill_min_tokens > 0 && in_.n_tok >= w.prefill_min_tokens) return w.prefill;
        return Matrix::Form{w.type, w.row_bytes, w.data, w.act, w.fn};
    };
    Part parts[4];
    int n_parts = 0, total_rows = 0, align = kRowAlign;
    size_t work = 0;  // weight bytes x tokens
    for (const MatmulOut& o : outs) {
        total_rows += o.w->n_out;
        align = std::max(align, matmul_row_tile(form_of(*o.w).type));  // tiles are powers of two
        work += form_of(*o.w).row_bytes * (size_t)o.w->n_out * (size_t)in_.n_tok;
    }
    // kTasksPerThread tasks per thread, but at most one per kMinTaskWork: every claim costs
    // contended atomics, which a decode step's small matrices would pay many times over.
    const int n_target = (int)std::clamp(work / kMinTaskWork, (size_t)pool_.size(),
                                         (size_t)pool_.size() * kTasksPerThread);
    const int per_chunk = std::max(align, (total_rows + n_target - 1) / n_target);
    const int chunk = (per_chunk + align - 1) / align * align;
    int n_tasks = 0;
    for (const MatmulOut& o : outs) {
        const Matrix& w = *o.w;
        if (w.n_in != in_.dim || n_parts == 4) throw std::logic_error("matmul input does not match the weight");
        Part& p = parts[n_parts++];
        p.form = form_of(w);
        const ActType act = p.form.act;
        p.w = &w;
        p.y = o.y;
        p.ldy = o.ldy;
        if (act == ACT_F32) {
            p.xq = in_.x;
            p.x_row_bytes = (size_t)in_.dim * sizeof(float);
        } else {
            const size_t rb = act_row_bytes(act, in_.dim);
            uint8_t* buf = act_[act].data();
            if (!in_.ready[act]) {  // quantize the n_tok input rows once for this format
                const QuantizeActFn q = kt_.quantize_act[act];
                const float* x = in_.x;
                const int dim = in_.dim;
                for_tokens(in_.n_tok, [&](int t) { q(x + (size_t)t * dim, buf + t * rb, dim); });
                in_.ready[act] = true;
            }
            p.xq = buf;
            p.x_row_bytes = rb;
        }
        p.first_task = n_tasks;
        n_tasks += (w.n_out + chunk - 1) / chunk;
    }
    const int n_tok = in_.n_tok;
    pool_.parallel_for(n_tasks, [&](int task, int) {
        int i = n_parts - 1;
        while (parts[i].first_task > task) i--;
        const Part& p = parts[i];
        const int row0 = (task - p.first_task) * chunk;
        const int row1 = std::min(row0 + chunk, p.w->n_out);
        p.form.fn(p.form.data, p.form.row_bytes, p.xq, p.x_row_bytes, p.y, p.ldy, p.w->n_in, n_tok, row0, row1);
        if (p.w->scale != 1.0f)  // per-tensor scale (BitNet, NVFP4): y = scale * (W x)
            for (int t = 0; t < n_tok; t++)
                for (int r = row0; r < row1; r++) p.y[(size_t)t * p.ldy + r] *= p.w->scale;
    });
}

// Causal grouped-query attention of the batch's n queries (q_, rope applied) against the
// cache positions [0, pos] of each query; output att_ (n, Q). One task per (token, head).
void Model::attention(int layer, int n) {
    const int hd = cfg_.head_dim, n_head = cfg_.n_head, Q = cfg_.q_dim();
    const int group = cfg_.n_head / cfg_.n_head_kv;  // query heads per kv head
    const int pos0 = cache_.n_past(), n_ctx = cache_.n_ctx();
    const float scale = 1.0f / std::sqrt((float)hd);
    pool_.parallel_for(n * n_head, [&](int task, int thread) {
        const int t = task / n_head, h = task % n_head;
        const int pos = pos0 + t;
        const int kv_off = (h / group) * hd;
        const float* q = q_.data() + (size_t)t * Q + h * hd;
        float* s = scores_.data() + (size_t)thread * n_ctx;
        const size_t stride = (size_t)cfg_.kv_dim();  // cache rows of consecutive positions
        kt_.dot_rows_f32(q, cache_.k(layer, 0) + kv_off, stride, pos + 1, hd, scale, s);
        ops::softmax(s, pos + 1);
        float* out = att_.data() + (size_t)t * Q + h * hd;
        kt_.weighted_rows_f32(s, cache_.v(layer, 0) + kv_off, stride, pos + 1, hd, out);
    });
}

void Model::forward_batch(const int32_t* tokens, int n, float* logits, bool all_logits) {
    const ModelConfig& c = cfg_;
    const int D = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff, R = c.rope_dim;
    const int pos0 = cache_.n_past();
    const bool neox = c.rope_style == RopeStyle::NeoX;
    float* x = x_.data();
    float* xb = xb_.data();

    // Token embeddings: x (n, D) = rows of token_embd.
    for_tokens(n, [&](int t) {
        w_.embd_row(w_.token_embd.data + (size_t)tokens[t] * w_.token_embd.row_bytes, x + (size_t)t * D, D);
    });
    for (int t = 0; t < n; t++) ops::rope_angles(&rope_cs_[(size_t)t * R], inv_freq_.data(), R, pos0 + t);

    for (int l = 0; l < c.n_layer; l++) {
        const LayerWeights& L = w_.layers[l];

        // Attention block: xb = rmsnorm(x); q, k, v = xb Wq^T, xb Wk^T, xb Wv^T (k, v straight
        // into the cache at positions pos0..pos0+n-1); rope(q, k); att = attention;
        // [sub_norms: att = rmsnorm(att) * attn_sub_norm]; x += att Wo^T.
        for_tokens(n, [&](int t) { ops::rmsnorm(xb + (size_t)t * D, x + (size_t)t * D, L.attn_norm.data(), D, c.rms_eps); });
        set_input(xb, n, D);
        matmuls({{&L.wq, q_.data(), (size_t)Q}, {&L.wk, cache_.k(l, pos0), (size_t)KV}, {&L.wv, cache_.v(l, pos0), (size_t)KV}});
        for_tokens(n, [&](int t) {
            const float* cs = &rope_cs_[(size_t)t * R];
            ops::rope(q_.data() + (size_t)t * Q, c.n_head, c.head_dim, R, cs, neox);
            ops::rope(cache_.k(l, pos0 + t), c.n_head_kv, c.head_dim, R, cs, neox);
        });
        attention(l, n);
        if (c.sub_norms)
            for_tokens(n, [&](int t) {
                float* a = att_.data() + (size_t)t * Q;
                ops::rmsnorm(a, a, L.attn_sub_norm.data(), Q, c.rms_eps);
            });
        set_input(att_.data(), n, Q);
        matmuls({{&L.wo, xb, (size_t)D}});

        // FFN block: h = act(xb Wg^T) * (xb Wu^T) with xb = rmsnorm(x), act = silu or relu^2;
        // [sub_norms: h = rmsnorm(h) * ffn_sub_norm]; x += h Wd^T.
        for_tokens(n, [&](int t) {
            ops::add(x + (size_t)t * D, xb + (size_t)t * D, D);
            ops::rmsnorm(xb + (size_t)t * D, x + (size_t)t * D, L.ffn_norm.data(), D, c.rms_eps);
        });
        set_input(xb, n, D);
        matmuls({{&L.w_gate, gate_.data(), (size_t)F}, {&L.w_up, up_.data(), (size_t)F}});
        for_tokens(n, [&](int t) {
            float* h = gate_.data() + (size_t)t * F;
            if (c.ffn_act == FfnAct::ReluSqr)
                ops::relu_sqr_gate(h, up_.data() + (size_t)t * F, F);
            else
                ops::swiglu(h, up_.data() + (size_t)t * F, F);
            if (c.sub_norms) ops::rmsnorm(h, h, L.ffn_sub_norm.data(), F, c.rms_eps);
        });
        set_input(gate_.data(), n, F);
        matmuls({{&L.w_down, xb, (size_t)D}});
        for_tokens(n, [&](int t) { ops::add(x + (size_t)t * D, xb + (size_t)t * D, D); });
    }

    if (!logits) return;  // a non-final micro-batch of a prompt whose last logits are wanted
    // Output: logits = rmsnorm(x) Wout^T, for every token or only the last.
    const int first = all_logits ? 0 : n - 1;
    const int m = n - first;
    for_tokens(m, [&](int t) {
        ops::rmsnorm(xb + (size_t)t * D, x + (size_t)(first + t) * D, w_.output_norm.data(), D, c.rms_eps);
    });
    set_input(xb, m, D);
    matmuls({{&w_.output, logits, (size_t)c.n_vocab}});
}

void Model::eval(const int32_t* tokens, int n, bool all_logits, float* logits) {
    if (n <= 0) throw std::invalid_argument("eval needs at least one token");
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg_.n_vocab)
            throw std::invalid_argument("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                        " is out of range [0, " + std::to_string(cfg_.n_vocab) + ")");
    cache_.check_room(n);
    for (int done = 0; done < n; done += n_batch_) {
        const int m = std::min(n_batch_, n - done);
        const bool last = done + m == n;
        float* out = all_logits ? logits + (size_t)done * cfg_.n_vocab : (last ? logits : nullptr);
        forward_batch(tokens + done, m, out, all_logits);
        cache_.advance(m);
    }
}

}  // namespace edgeq
