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

// Batches of at least this many tokens multiply with the native TQ form of a TL2 matrix.
// Measured (bench/ternary_lut.py, AVX-512, 2 threads): TL2 decodes faster, the VNNI TQ2_0 kernel
// is ~1.5x faster from a few tokens on.
constexpr int kTl2PrefillMinTokens = 8;

bool is_ternary(uint32_t type) { return type == GGML_TQ2_0 || type == GGML_TQ1_0; }

}  // namespace

void apply_ternary_layout(ModelWeights& w, TernaryLayout layout, const KernelTable& kt) {
    std::vector<std::pair<Matrix*, std::string>> todo;
    for (auto& pm : projection_matrices(w))
        if (is_ternary(pm.first->type)) todo.push_back(pm);
    w.ternary_layout = todo.empty() ? "none" : "native";
    w.ternary_note.clear();
    if (todo.empty() || layout == TernaryLayout::Native) return;
    const MatmulKernel& k = kt.matmul[EDGEQ_TL2];
    if (!k.fn || !kt.quantize_act[k.act]) throw std::logic_error(std::string("kernel table '") + kt.name + "' lacks TL2");
    // Auto converts only where TL2 has SIMD kernels: this table's TL2 matmul is its own, not the
    // scalar reference's (an ISA without them, e.g. NEON today, keeps its fast TQ kernels).
    if (layout == TernaryLayout::Auto && std::string(kt.name) != "ref" &&
        k.fn == kernels_for("ref").matmul[EDGEQ_TL2].fn) {
        w.ternary_note = std::string("no TL2 kernels for ISA ") + kt.name;
        return;
    }

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
        // The native form stays for prefill where its kernel is SIMD (see Matrix::prefill).
        if (m->fn != kernels_for("ref").matmul[m->type].fn || std::string(kt.name) == "ref") {
            c.prefill = {m->type, m->row_bytes, m->data, m->act, m->fn};
            c.prefill_min_tokens = kTl2PrefillMinTokens;
        }
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
