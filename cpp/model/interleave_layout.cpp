#include "model/interleave_layout.h"

#include <string>

#include "kernels/interleave.h"

namespace edgeq {

void apply_interleaved_layout(ModelWeights& w, const KernelTable& kt) {
    if (std::string(kt.name) == "ref") return;  // the reference x16 kernel unpacks rows: slower
    const KernelTable& ref = kernels_for("ref");
    auto repack = [&](Matrix& m) {
        // Q6_K stays native: its x16 kernel multiplies batches ~1.45x faster but streams from DRAM
        // ~20% slower in decode (bench, AVX-512: smol-q4km tg64 157 -> 148 t/s at pp128 +1%).
        if (m.type == GGML_Q6_K) return;
        const uint32_t type = x16::interleaved_type(m.type);
        if (!type || !kt.matmul[type].fn || kt.matmul[type].fn == ref.matmul[type].fn) return;
        uint8_t* data = w.allocate(weight_matrix_bytes(type, m.n_in, m.n_out));
        x16::pack(m.type, m.data, m.row_bytes, m.n_in, m.n_out, data);
        m.type = type;
        m.row_bytes = weight_row_bytes(type, m.n_in);
        m.data = data;
        m.act = kt.matmul[type].act;
        m.fn = kt.matmul[type].fn;
    };
    for (auto& pm : projection_matrices(w)) repack(*pm.first);
    if (w.tied_output) repack(w.output);  // a copy: w.output no longer aliases token_embd's bytes
}

}  // namespace edgeq
