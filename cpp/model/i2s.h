// bitnet.cpp's I2_S ternary format, read by converting each matrix at load into TQ2_0 blocks (so
// the TQ2_0 kernels run it; a per-row dequantize is awkward because the scale is per tensor).
//
// I2_S (type 36 in bitnet.cpp's ggml fork; unknown to upstream ggml) -- sources: microsoft/BitNet
// src/ggml-bitnet-mad.cpp (quantize_i2_s), and ggml/src/ggml.c (ggml_nbytes) and ggml-quants.c
// (dequantize_row_i2_s) of its llama.cpp fork (Eddie-Wang1120/llama.cpp, 3rdparty/llama.cpp).
// A tensor of n values (file order: row after row) is
//   n / 4 bytes of 2-bit codes in blocks of 128 values (32 bytes each): value j (0..127) of a block
//     is bits 7-6, 5-4, 3-2, 1-0 (group g = j / 32 = 0, 1, 2, 3) of byte j % 32 of the block;
//     code 0 / 1 / 2 = weight -s / 0 / +s (3 is never written);
//   then the tensor scale s as a little-endian f32, then 28 bytes of padding
//   (ggml_nbytes of an I2_S tensor = n / 4 + 32).
// This is the x86 layout (QK_I2_S = 128), which the published GGUF files and dequantize_row_i2_s
// use; bitnet.cpp's ARM build packs 64-value blocks (16 bytes, g = j / 16), a file format of its
// own that cannot be told apart from this one (reported upstream as an ARM bug).
//
// Conversion: a TQ2_0 block of 256 values (quant_types.h: value 128 h + 32 l + m is bits 2l..2l+1
// of qs[32 h + m]) is two I2_S blocks whose bytes have the order of their four 2-bit fields
// reversed; the codes mean the same (w = d * (c - 1)). Rows must be whole TQ2_0 blocks (n_in %
// 256 == 0, true of every BitNet model).
#pragma once
#include <string>

#include "model/weights.h"

namespace edgeq {

// Converts the I2_S matrix `t` (GGUF shape [n_in, n_out], trailing 1s allowed) into TQ2_0 rows that
// `w` owns and returns their view. The blocks get d = s when s is an fp16 value (then the result
// equals a TQ2_0 file of the same weights bit for bit), else d = 1; *output_scale is what the matmul
// output must be multiplied by (1, or s). Throws std::invalid_argument("tensor '<name>': ...") for a
// wrong byte size, rows that are not whole 256-value blocks, a non-finite scale or a code 3.
TensorView i2s_to_tq2_0(const std::string& name, const TensorView& t, ModelWeights& w, float* output_scale);

}  // namespace edgeq
