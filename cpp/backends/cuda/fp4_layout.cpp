#include "backends/cuda/fp4_layout.h"

#include <stdexcept>
#include <string>

#include "backends/cuda/fp4_decode.h"
#include "kernels/kernels.h"

namespace edgeq::gpu {

int fp4_group(uint32_t type) {
    return type == GGML_MXFP4 ? QK_MXFP4 : type == GGML_NVFP4 ? QK_NVFP4_SUB : 0;
}

Fp4Layout fp4_layout_from_gguf(uint32_t type, const uint8_t* data, size_t nbytes, int n_out, int n_in) {
    const int G = fp4_group(type);
    if (G == 0) throw std::invalid_argument(std::string("the GPU FP4 kernels take MXFP4 or NVFP4, not ") + ggml_type_name(type));
    const int bs = ggml_block_size(type);
    if (n_out <= 0 || n_in <= 0 || n_in % bs != 0)
        throw std::invalid_argument(std::string(ggml_type_name(type)) + " matrix (" + std::to_string(n_out) + ", " +
                                    std::to_string(n_in) + "): rows must be a positive multiple of " + std::to_string(bs));
    const size_t row_bytes = (size_t)(n_in / bs) * ggml_type_size(type);
    if (nbytes != row_bytes * (size_t)n_out)
        throw std::invalid_argument("weight bytes (" + std::to_string(nbytes) + ") do not match (n_out, n_in) = (" +
                                    std::to_string(n_out) + ", " + std::to_string(n_in) + ")");
    Fp4Layout L;
    L.type = type;
    L.n_out = n_out;
    L.n_in = n_in;
    L.group = G;
    L.codes.assign((size_t)n_out * (n_in / 2), 0);
    L.scales.assign((size_t)n_out * (n_in / G), 0);
    for (int r = 0; r < n_out; r++) {
        const uint8_t* row = data + (size_t)r * row_bytes;
        uint8_t* codes = L.codes.data() + (size_t)r * (n_in / 2);
        uint8_t* scales = L.scales.data() + (size_t)r * (n_in / G);
        for (int k = 0; k < n_in; k++) {
            uint32_t code;
            if (type == GGML_MXFP4) {  // qs[j]: value j (low nibble), j + 16 (high nibble)
                const block_mxfp4& b = reinterpret_cast<const block_mxfp4*>(row)[k / 32];
                const int j = k % 32;
                code = j < 16 ? b.qs[j] & 15 : b.qs[j - 16] >> 4;
                if (j == 0) scales[k / 32] = b.e;
            } else {  // sub-block s: qs[8 s + j]: value j (low nibble), j + 8 (high nibble)
                const block_nvfp4& b = reinterpret_cast<const block_nvfp4*>(row)[k / 64];
                const int s = (k % 64) / 16, j = k % 16;
                code = j < 8 ? b.qs[8 * s + j] & 15 : b.qs[8 * s + j - 8] >> 4;
                if (j == 0) scales[k / 16] = b.d[s];
            }
            codes[k / 2] |= (uint8_t)(code << (4 * (k % 2)));
        }
    }
    return L;
}

float fp4_layout_value(const Fp4Layout& L, int r, int k) {
    const uint32_t byte = L.codes[(size_t)r * (L.n_in / 2) + k / 2];
    const uint32_t scale = L.scales[(size_t)r * (L.n_in / L.group) + k / L.group];
    const float s = L.type == GGML_NVFP4 ? scale_half<true>(scale) : scale_half<false>(scale);
    return e2m1_x2((byte >> (4 * (k % 2))) & 15) * s;
}

}  // namespace edgeq::gpu
