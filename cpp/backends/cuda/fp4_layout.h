// The GPU layout of an FP4 weight matrix W (n_out, n_in), made from the GGUF blocks at upload
// (host code: built and tested without a device). GGUF interleaves 17- or 36-byte blocks, which
// no GPU load can fetch aligned; the GPU layout splits them into two aligned arrays:
//   codes  (n_out, n_in / 2) bytes: natural order, byte k of a row holds value 2k in its low
//          nibble and 2k + 1 in its high nibble (the order of PTX's packed .e2m1 operands);
//   scales (n_out, n_in / G) bytes: one scale byte per group of G values, G = 32 (MXFP4: E8M0)
//          or 16 (NVFP4: UE4M3).
// value(r, k) = e2m1_x2(code) * scale_half(scale[r][k / G]) (fp4_decode.h), bit-exact with the
// CPU dequantizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgeq::gpu {

struct Fp4Layout {
    uint32_t type = 0;  // GGML_MXFP4 or GGML_NVFP4
    int n_out = 0, n_in = 0;
    int group = 0;      // values per scale byte
    std::vector<uint8_t> codes, scales;
};

// Values per scale byte of an FP4 type; 0 if the type is not MXFP4 / NVFP4.
int fp4_group(uint32_t type);

// GGUF rows (n_out rows of n_in values, packed) -> the GPU layout. Throws std::invalid_argument
// for another type, a row length that is not whole blocks, or a byte count that does not fit.
Fp4Layout fp4_layout_from_gguf(uint32_t type, const uint8_t* data, size_t nbytes, int n_out, int n_in);

// Value (r, k) of a layout, decoded on the host with the kernels' decoder.
float fp4_layout_value(const Fp4Layout& L, int r, int k);

}  // namespace edgeq::gpu
