// Per-call activation data of the x16 matmul kernels (kernels/interleave.h), ISA-neutral: each
// ISA instantiates prepare_act with its own format class F (in its own namespace, compiled with
// its flags), so no instantiation is shared between ISAs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "edgeq/quant_types.h"

namespace edgeq::x16 {

// Per token t and block b (index t * nb + b): the activation scale d, Q8_1's s (F::kHasMin),
// and the weight offset's term corr = -F::kOffset * (sum of the block's 32 int8 values), which
// starts each block's integer dot (F::kOffset != 0).
struct ActInfo {
    std::vector<float> d, s;
    std::vector<int32_t> corr;
};

// X: n_tok rows of F::XB blocks (block_q8_0 / block_q8_1), x_row_bytes apart, nb blocks each.
template <class F>
void prepare_act(ActInfo& a, const uint8_t* X, size_t x_row_bytes, int n_tok, int nb) {
    using XB = typename F::XB;
    const size_t n = (size_t)n_tok * nb;
    a.d.resize(n);
    if constexpr (F::kHasMin) a.s.resize(n);
    if constexpr (F::kOffset != 0) a.corr.resize(n);
    for (int t = 0; t < n_tok; t++) {
        const XB* x = reinterpret_cast<const XB*>(X + (size_t)t * x_row_bytes);
        for (int b = 0; b < nb; b++) {
            const size_t i = (size_t)t * nb + b;
            a.d[i] = fp16_to_fp32(x[b].d);
            if constexpr (F::kHasMin) a.s[i] = fp16_to_fp32(x[b].s);
            if constexpr (F::kOffset != 0) {
                int sum = 0;
                for (int j = 0; j < 32; j++) sum += x[b].qs[j];
                a.corr[i] = -F::kOffset * sum;
            }
        }
    }
}

}  // namespace edgeq::x16
