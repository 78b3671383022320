#include "model/ternary_layout.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ternary_lut.h"
#include "kernels/ternary_lut_dword.h"

namespace edgeq {

namespace {

constexpr std::pair<const char*, TernaryLayout> kLayoutNames[] = {
    {"auto", TernaryLayout::Auto}, {"native", TernaryLayout::Native}, {"tl", TernaryLayout::TL},
    {"tl2", TernaryLayout::TL2},   {"tl2d", TernaryLayout::TL2D},
};

std::string layout_name(TernaryLayout layout) {
    for (const auto& [name, l] : kLayoutNames)
        if (l == layout) return name;
    return "?";
}

}  // namespace

TernaryLayout parse_ternary_layout(const std::string& s) {
    std::string names;  // 'auto', 'native', ... or 'tl2d'
    const size_t n = sizeof kLayoutNames / sizeof kLayoutNames[0];
    for (size_t i = 0; i < n; i++) {
        if (s == kLayoutNames[i].first) return kLayoutNames[i].second;
        names += std::string(i == 0 ? "'" : i + 1 == n ? " or '" : ", '") + kLayoutNames[i].first + "'";
    }
    throw std::invalid_argument("ternary_layout must be " + names + ", got '" + s + "'");
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
    // A layout has SIMD kernels here if this table's matmul for it is its own, not the scalar
    // reference's. TL2D (AVX-512 VBMI) is the faster of the two where it has them, else TL2;
    // Auto converts only to a layout with SIMD kernels (an ISA without them keeps its fast TQ
    // kernels) or on the reference table itself. On x86 that choice is measured
    // (kTl2PrefillMinTokens); on ARM (the neon / dotprod / i8mm tables share the NEON TL2 kernel)
    // it is not: they have only run under qemu, whose timings mean nothing.
    const bool ref_table = std::string(kt.name) == "ref";
    auto simd = [&](uint32_t type) { return !ref_table && kt.matmul[type].fn != kernels_for("ref").matmul[type].fn; };
    const uint32_t type = layout == TernaryLayout::TL2    ? EDGEQ_TL2
                          : layout == TernaryLayout::TL2D ? EDGEQ_TL2D
                          : simd(EDGEQ_TL2D)              ? EDGEQ_TL2D
                                                          : EDGEQ_TL2;
    const MatmulKernel& k = kt.matmul[type];
    if (!k.fn || !kt.quantize_act[k.act])
        throw std::logic_error(std::string("kernel table '") + kt.name + "' lacks " + ggml_type_name(type));
    if (layout == TernaryLayout::Auto && !ref_table && !simd(type)) {
        w.ternary_note = std::string("no TL2 kernels for ISA ") + kt.name;
        return;
    }

    // Convert into storage of our own first: Auto may still keep every matrix native.
    ModelWeights staging;
    std::vector<Matrix> converted;
    for (auto& [m, name] : todo) {
        uint8_t* data = staging.allocate(weight_matrix_bytes(type, m->n_in, m->n_out));
        const std::string why = tl::pack_layout(type, m->type, m->data, m->row_bytes, m->n_in, m->n_out, data);
        if (!why.empty()) {
            const std::string note = "tensor '" + name + "' (" + ggml_type_name(m->type) + "): " + why;
            if (layout != TernaryLayout::Auto)
                throw std::invalid_argument("ternary_layout=" + layout_name(layout) + ": " + note);
            w.ternary_note = note;
            return;
        }
        Matrix c = *m;
        // The native form stays for prefill where its kernel is SIMD (see Matrix::prefill).
        if (ref_table || simd(m->type)) {
            c.prefill = {m->type, m->row_bytes, m->data, m->act, m->fn};
            c.prefill_min_tokens = kTl2PrefillMinTokens;
        }
        c.type = type;
        c.row_bytes = weight_row_bytes(type, m->n_in);
        c.data = data;
        c.act = k.act;
        c.fn = k.fn;
        converted.push_back(c);
    }
    for (size_t i = 0; i < todo.size(); i++) *todo[i].first = converted[i];
    w.owned.insert(w.owned.end(), staging.owned.begin(), staging.owned.end());
    w.ternary_layout = type == EDGEQ_TL2D ? "tl2d" : "tl";
}

}  // namespace edgeq
