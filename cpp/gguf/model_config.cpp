#include "gguf/model_config.h"

#include <algorithm>
#include <stdexcept>

namespace edgeq {

namespace {

// A printable rendering of a metadata value for error messages.
std::string describe(const GgufValue& v) {
    if (v.type == GgufType::STRING) return "'" + std::string(v.str) + "'";
    if (v.type == GgufType::BOOL) return v.u ? "True" : "False";
    if (v.is_float()) return std::to_string(v.f);
    if (v.type == GgufType::U64) return std::to_string(v.u);
    if (v.is_int()) return std::to_string(v.i);
    return std::string("a ") + gguf_type_name(v.type);
}

// A positive integer key (bool is not an integer here); `def` < 0 means required.
int64_t meta_int(const GgufFile& g, const std::string& key, int64_t def = -1) {
    const GgufValue* v = g.find(key);
    if (!v) {
        if (def < 0) g.fail("missing metadata key '" + key + "'");
        return def;
    }
    const bool positive = v->type == GgufType::U64 ? v->u > 0 : v->i > 0;
    if (!v->is_int() || !positive) g.fail("metadata '" + key + "' must be a positive integer, got " + describe(*v));
    if (v->u > (uint64_t(1) << 30)) g.fail("metadata '" + key + "' is out of range, got " + describe(*v));
    return v->i;
}

double meta_float(const GgufFile& g, const std::string& key, double def) {
    const GgufValue* v = g.find(key);
    if (!v) return def;
    if (v->is_float()) return v->f;
    if (v->is_int()) return v->type == GgufType::U64 ? (double)v->u : (double)v->i;
    g.fail("metadata '" + key + "' must be a number, got " + describe(*v));
}

}  // namespace

const std::vector<ArchFlags>& arch_table() {
    static const std::vector<ArchFlags> table = {
        {"llama", RopeStyle::Normal, FfnAct::SiLU, false, false},
        {"bitnet", RopeStyle::NeoX, FfnAct::SiLU, true, true},
        {"bitnet-b1.58", RopeStyle::NeoX, FfnAct::ReluSqr, true, true},
        {"bitnet-25", RopeStyle::NeoX, FfnAct::ReluSqr, true, true},
    };
    return table;
}

const ArchFlags* find_arch(const std::string& arch) {
    for (const auto& a : arch_table())
        if (arch == a.arch) return &a;
    return nullptr;
}

std::string supported_archs() {
    std::vector<std::string> names;
    for (const auto& a : arch_table()) names.push_back(a.arch);
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

ModelConfig read_model_config(const GgufFile& g) {
    const GgufValue* arch_v = g.find("general.architecture");
    const std::string arch = g.architecture();
    const ArchFlags* flags = find_arch(arch);
    if (!flags)
        g.unsupported("unsupported architecture " + (arch_v ? describe(*arch_v) : std::string("None")) +
               " (supported: " + supported_archs() + ")");
    if (const GgufValue* e = g.find(arch + ".expert_count")) {
        if ((e->is_int() && e->u != 0) || (e->is_float() && e->f != 0.0) || (e->type == GgufType::BOOL && e->u))
            g.unsupported("mixture-of-experts models (" + arch + " with " + describe(*e) + " experts) are not supported");
    }
    if (const GgufValue* s = g.find(arch + ".rope.scaling.type")) {
        const std::string scaling = s->type == GgufType::STRING ? std::string(s->str) : describe(*s);
        // llama.cpp writes linear x1 for BitNet: the identity.
        const bool linear_identity =
            scaling == "linear" && meta_float(g, arch + ".rope.scaling.factor", 1.0) == 1.0;
        if (!(s->type == GgufType::STRING && scaling == "none") && !linear_identity)
            g.unsupported("RoPE scaling type " + describe(*s) + " is not supported");
    }
    const GgufTensorInfo* embd = g.find_tensor("token_embd.weight");
    if (!embd) g.fail("missing tensor 'token_embd.weight'");
    if (embd->shape.size() != 2) g.fail("tensor 'token_embd.weight' must be 2-D");

    ModelConfig c;
    c.arch = arch;
    c.n_layer = (int)meta_int(g, arch + ".block_count");
    c.n_embd = (int)meta_int(g, arch + ".embedding_length");
    c.n_ff = (int)meta_int(g, arch + ".feed_forward_length");
    c.n_head = (int)meta_int(g, arch + ".attention.head_count");
    c.n_head_kv = (int)meta_int(g, arch + ".attention.head_count_kv", c.n_head);
    if (embd->shape[1] > (int64_t(1) << 30)) g.fail("tensor 'token_embd.weight' has too many rows");
    c.n_vocab = (int)embd->shape[1];
    c.rope_base = (float)meta_float(g, arch + ".rope.freq_base", 10000.0);
    c.rms_eps = (float)meta_float(g, arch + ".attention.layer_norm_rms_epsilon", 1e-5);
    c.rope_style = flags->rope_style;
    c.ffn_act = flags->ffn_act;
    c.sub_norms = flags->sub_norms;
    c.matmul_scales = flags->matmul_scales;
    if (g.find(arch + ".attention.key_length")) {
        const int64_t head_dim = meta_int(g, arch + ".attention.key_length");
        if (meta_int(g, arch + ".attention.value_length", head_dim) != head_dim)
            g.unsupported("key_length != value_length is not supported");
        c.head_dim = (int)head_dim;
    }
    if (g.find(arch + ".rope.dimension_count")) c.rope_dim = (int)meta_int(g, arch + ".rope.dimension_count");
    try {
        c.finalize();
    } catch (const std::invalid_argument& e) {
        g.fail(e.what());
    }
    return c;
}

int64_t read_context_length(const GgufFile& g) {
    return meta_int(g, g.architecture() + ".context_length", kDefaultMaxCtx);
}

}  // namespace edgeq
