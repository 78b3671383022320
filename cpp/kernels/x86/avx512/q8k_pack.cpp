// Q8_K activations in the layout of the AVX-512 prompt GEMM (kquants_avx512.h). Quantization
// itself is the AVX2 kernel (the AVX-512 table starts from the AVX2 one).
#include <cstring>

#include "kernels/x86/avx512/kquants_avx512.h"

namespace edgeq::avx512::kq {

void pack_q8K(const void* Xq, size_t x_row_bytes, int n_tok, int t0, int nb, Q8KPack* out) {
    for (int b = 0; b < nb; b++) {
        Q8KPack& p = out[b];
        std::memset(&p, 0, sizeof(p));
        for (int t = 0; t < kTileTok && t0 + t < n_tok; t++) {
            const block_q8_K& x = ((const block_q8_K*)((const uint8_t*)Xq + (size_t)(t0 + t) * x_row_bytes))[b];
            for (int v = 0; v < 4; v++) std::memcpy(p.qs[v][t], x.qs + 64 * v, 64);
            for (int s = 0; s < kTileRows; s++) {
                p.d[4 * t + s] = x.d;
                for (int j = 0; j < 8; j++) p.bs32[j][4 * t + s] = (float)(x.bsums[2 * j] + x.bsums[2 * j + 1]);
            }
            std::memcpy(p.bs16[t], x.bsums, sizeof(p.bs16[t]));
        }
    }
}

}  // namespace edgeq::avx512::kq
