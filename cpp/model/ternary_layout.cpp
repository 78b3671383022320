#include "model/ternary_layout.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ternary_lut.h"

namespace edgeq {

TernaryLayout parse_ternary_layout(const std::string& s) {
    if (s == "auto") return TernaryLayout::Auto;
    if (s == "native") return TernaryLayout::Native;
    if (s == "tl") return TernaryLayout::TL;
    throw std::invalid_argument("ternary_layout must be 'auto', 'native' or 'tl', got '" + s + "'");
}

namespace {

bool is_ternary(uint32_t type) { return type == GGML_TQ2_0 || type == GGML_TQ1_0; }

// The projections a layout applies to, with their GGUF names.
std::vector<std::pair<Matrix*, std::string>> projections(ModelWeights& w) {
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

}  // namespace

void apply_ternary_layout(ModelWeights& w, TernaryLayout layout, const KernelTable& kt) {
    std::vector<std::pair<Matrix*, std::string>> todo;
    for (auto& pm : projections(w))
        if (is_ternary(pm.first->type)) todo.push_back(pm);
    w.ternary_layout = todo.empty() ? "none" : "native";
    w.ternary_note.clear();
    if (todo.empty() || layout == TernaryLayout::Native) return;
    const MatmulKernel& k = kt.matmul[EDGEQ_TL2];
    if (!k.fn || !kt.quantize_act[k.act]) throw std::logic_error(std::string("kernel table '") + kt.name + "' lacks TL2");

    // Convert into storage of our own first: Auto may still keep every matrix native.
    ModelWeights staging;
    std::vector<Matrix> converted;
    for (auto& [m, name] : todo) {
        uint8_t* data = staging.allocate(weight_matrix_bytes(EDGEQ_TL2, m->n_in, m->n_out));
        const std::string why = tl::pack(m->type, m->data, m->row_bytes, m->n_in, m->n_out, data);
        if (!why.empty()) {
            const std::string note = "tensor '" + name + "' (" + ggml_type_name(m->type) + "): " + why;
            if (layout == TernaryLayout::TL) throw std::invalid_argument("ternary_layout=tl: " + note);
            w.ternary_note = note;
            return;
        }
        Matrix c = *m;
        c.type = EDGEQ_TL2;
        c.row_bytes = weight_row_bytes(EDGEQ_TL2, m->n_in);
        c.data = data;
        c.act = k.act;
        c.fn = k.fn;
        converted.push_back(c);
    }
    for (size_t i = 0; i < todo.size(); i++) *todo[i].first = converted[i];
    w.owned.insert(w.owned.end(), staging.owned.begin(), staging.owned.end());
    w.ternary_layout = "tl";
}

}  // namespace edgeq
