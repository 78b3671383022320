#include "model/i2s.h"

#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace edgeq {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
    throw std::invalid_argument("tensor '" + name + "': " + problem);
}

// I2_S byte (fields g = 0..3 at bits 7-6 .. 1-0) -> TQ2_0 byte (field l at bits 2l..2l+1, l = g).
std::array<uint8_t, 256> make_reverse_fields() {
    std::array<uint8_t, 256> t{};
    for (int b = 0; b < 256; b++)
        t[b] = (uint8_t)(((b >> 6) & 3) | ((b >> 4) & 3) << 2 | ((b >> 2) & 3) << 4 | (b & 3) << 6);
    return t;
}

constexpr int kTrailerBytes = 32;  // f32 scale + 28 bytes of padding

// Code of value j (0..127) of the I2_S block at `block`.
int i2s_code(const uint8_t* block, int j) { return (block[j % 32] >> (6 - 2 * (j / 32))) & 3; }

// The first of the 256 values in two consecutive I2_S blocks whose code is 3 (the caller knows one is).
int first_code3(const uint8_t* two_blocks) {
    for (int k = 0; k < QK_K; k++)
        if (i2s_code(two_blocks + (k / QK_I2_S) * 32, k % QK_I2_S) == 3) return k;
    return 0;
}

}  // namespace

TensorView i2s_to_tq2_0(const std::string& name, const TensorView& t, ModelWeights& w, float* output_scale) {
    if (t.shape.empty()) fail(name, "has no dimensions");
    int64_t n = 1;
    for (int64_t d : t.shape) {
        if (d <= 0) fail(name, "has a non-positive dimension");
        n *= d;
    }
    const int64_t n_in = t.shape[0];
    if (n_in % QK_K != 0)
        fail(name, "I2_S row length " + std::to_string(n_in) + " is not a multiple of 256 (edgeq runs I2_S as TQ2_0)");
    const size_t packed = (size_t)(n / 4);
    if (t.data == nullptr) fail(name, "has no data");
    if (t.nbytes != packed + kTrailerBytes)
        fail(name, "I2_S with " + std::to_string(n) + " values needs " + std::to_string(packed + kTrailerBytes) +
                       " bytes (" + std::to_string(packed) + " of 2-bit codes + 32: f32 scale and padding), got " +
                       std::to_string(t.nbytes));
    float s;
    std::memcpy(&s, t.data + packed, 4);
    if (!std::isfinite(s)) fail(name, "I2_S tensor scale is not a finite number");

    // d = s exactly when s is an fp16 value; otherwise d = 1 and s multiplies the matmul output.
    const ggml_half s16 = fp32_to_fp16(s);
    const bool exact = fp16_to_fp32(s16) == s;
    const ggml_half d = exact ? s16 : fp32_to_fp16(1.0f);
    *output_scale = exact ? 1.0f : s;

    static const std::array<uint8_t, 256> reverse = make_reverse_fields();
    const size_t n_blocks = (size_t)(n / QK_K);
    TensorView out;
    out.type = GGML_TQ2_0;
    out.shape = t.shape;
    out.nbytes = n_blocks * sizeof(block_tq2_0);
    block_tq2_0* dst = (block_tq2_0*)w.allocate(out.nbytes);
    const uint8_t* src = t.data;
    for (size_t b = 0; b < n_blocks; b++, src += QK_K / 4) {
        uint8_t bad = 0;
        for (int i = 0; i < QK_K / 4; i++) {
            bad |= src[i] & (src[i] >> 1) & 0x55;  // a field with both bits set: code 3
            dst[b].qs[i] = reverse[src[i]];
        }
        if (bad) {
            const int64_t v = (int64_t)(b * QK_K) + first_code3(src);
            fail(name, "I2_S code 3 (not a ternary value) at row " + std::to_string(v / n_in) + ", column " +
                           std::to_string(v % n_in));
        }
        dst[b].d = d;
    }
    out.data = (const uint8_t*)dst;
    return out;
}

}  // namespace edgeq
