// I2_S -> TQ2_0 conversion at load (model/i2s.h) against I2_S bytes built here by hand from the
// layout of bitnet.cpp's quantize_i2_s (microsoft/BitNet src/ggml-bitnet-mad.cpp, x86 QK_I2_S = 128):
// value j of each 128-value block is bits (6 - 2 (j / 32))..(7 - 2 (j / 32)) of byte j % 32, code
// c -> weight s (c - 1), then the f32 scale and 28 bytes of padding. The converted rows are read back
// with the reference TQ2_0 dequantizer; malformed tensors must throw a one-line error naming them.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/i2s.h"
#include "test_util.h"

using namespace edgeq;
using namespace edgeq::test;

namespace {

void check(bool ok, const std::string& what) {
    counters().comparisons++;
    if (!ok) {
        counters().failures++;
        std::fprintf(stderr, "FAIL %s\n", what.c_str());
    }
}

// I2_S bytes of codes (file order, n % 128 == 0) with tensor scale s.
std::vector<uint8_t> pack_i2s(const std::vector<int>& codes, float s) {
    std::vector<uint8_t> out(codes.size() / 4 + 32, 0);
    for (size_t i = 0; i < codes.size(); i++) {
        const size_t block = i / 128, j = i % 128;
        out[block * 32 + j % 32] |= (uint8_t)(codes[i] << (6 - 2 * (j / 32)));
    }
    std::memcpy(out.data() + codes.size() / 4, &s, 4);
    return out;
}

TensorView view(const std::vector<uint8_t>& bytes, int64_t n_in, int64_t n_out) {
    TensorView t;
    t.type = GGML_I2_S;
    t.shape = {n_in, n_out};
    t.data = bytes.data();
    t.nbytes = bytes.size();
    return t;
}

std::vector<float> dequantize(const TensorView& t) {
    const int n_in = (int)t.shape[0], n_out = (int)t.shape[1];
    const size_t row_bytes = (size_t)(n_in / QK_K) * sizeof(block_tq2_0);
    std::vector<float> y((size_t)n_in * n_out);
    for (int r = 0; r < n_out; r++)
        kernels_for("ref").dequantize_row[GGML_TQ2_0](t.data + r * row_bytes, y.data() + (size_t)r * n_in, n_in);
    return y;
}

// The conversion of `codes` (n_out rows of n_in) with scale s decodes to s (c - 1) exactly.
void check_roundtrip(int n_in, int n_out, float s, bool fp16_scale) {
    std::uniform_int_distribution<int> code(0, 2);
    std::vector<int> codes((size_t)n_in * n_out);
    for (auto& c : codes) c = code(rng());
    const std::vector<uint8_t> bytes = pack_i2s(codes, s);
    ModelWeights w;
    float out_scale = 0.0f;
    const TensorView t = i2s_to_tq2_0("blk.0.attn_q.weight", view(bytes, n_in, n_out), w, &out_scale);
    const std::string what = "roundtrip " + std::to_string(n_in) + "x" + std::to_string(n_out) + " s=" +
                             std::to_string(s);
    check(t.type == GGML_TQ2_0 && t.shape == std::vector<int64_t>({n_in, n_out}) &&
              t.nbytes == (size_t)n_in * n_out / QK_K * sizeof(block_tq2_0),
          what + ": TQ2_0 view");
    // fp16 scales become the blocks' d; others stay outside (d = 1) as the output scale.
    const float d = fp16_scale ? s : 1.0f;
    check(out_scale == (fp16_scale ? 1.0f : s), what + ": output scale");
    std::vector<float> want(codes.size());
    for (size_t i = 0; i < codes.size(); i++) want[i] = d * (float)(codes[i] - 1);
    expect_bits_equal(dequantize(t).data(), want.data(), want.size(), what + ": values");
}

// A hand-decoded byte: 0x92 = 10 01 00 10 -> values 0, 32, 64, 96 of the block have codes 2, 1, 0, 2.
void check_literal_byte() {
    std::vector<uint8_t> bytes(256 / 4 + 32, 0x55);  // every other value: code 1 (weight 0)
    bytes[0] = 0x92;
    bytes[32 + 5] = 0x18;  // 00 01 10 00: values 128+5, 160+5, 192+5, 224+5 have codes 0, 1, 2, 0
    const float s = 0.5f;
    std::memcpy(bytes.data() + 64, &s, 4);
    ModelWeights w;
    float out_scale = 0.0f;
    const std::vector<float> y = dequantize(i2s_to_tq2_0("m", view(bytes, 256, 1), w, &out_scale));
    const struct { int k; float v; } expect[] = {{0, 0.5f},    {32, 0.0f},    {64, -0.5f},   {96, 0.5f},  {1, 0.0f},
                                                 {133, -0.5f}, {165, 0.0f},   {197, 0.5f},   {229, -0.5f}, {255, 0.0f}};
    for (const auto& e : expect)
        check(y[e.k] == e.v, "literal byte: value " + std::to_string(e.k) + " = " + std::to_string(y[e.k]) +
                                 ", want " + std::to_string(e.v));
}

// i2s_to_tq2_0 throws std::invalid_argument whose one-line message names the tensor and contains `needle`.
void check_error(const TensorView& t, const std::string& needle, const std::string& what) {
    ModelWeights w;
    float out_scale;
    std::string msg;
    try {
        i2s_to_tq2_0("blk.3.ffn_down.weight", t, w, &out_scale);
    } catch (const std::invalid_argument& e) {
        msg = e.what();
    }
    const bool ok = msg.find("blk.3.ffn_down.weight") != std::string::npos && msg.find(needle) != std::string::npos &&
                    msg.find('\n') == std::string::npos;
    if (!ok) std::fprintf(stderr, "  %s: message '%s'\n", what.c_str(), msg.c_str());
    check(ok, "error: " + what);
}

void check_errors() {
    std::vector<int> codes(512, 1);
    std::vector<uint8_t> good = pack_i2s(codes, 1.0f);
    TensorView t = view(good, 256, 2);
    t.nbytes = good.size() - 1;
    check_error(t, "needs 160 bytes", "truncated by one byte");
    t.nbytes = good.size() - 32;  // the trailer missing: the size a blocks-only reader would expect
    check_error(t, "got 128", "no scale trailer");
    std::vector<uint8_t> longer = good;
    longer.push_back(0);
    check_error(view(longer, 256, 2), "got 161", "one byte too many");
    check_error(view(good, 128, 4), "not a multiple of 256", "row of 128 values");
    std::vector<uint8_t> three = good;
    three[32 + 7] |= 0x0c;  // block 1, byte 7, group 2: value 128 + 64 + 7 = row 0, column 199
    check_error(view(three, 256, 2), "code 3", "code 3");
    check_error(view(three, 256, 2), "row 0, column 199", "code 3 position");
    std::vector<uint8_t> nan_scale = good;
    const float nan = std::nanf("");
    std::memcpy(nan_scale.data() + 128, &nan, 4);
    check_error(view(nan_scale, 256, 2), "scale is not a finite number", "NaN scale");
}

}  // namespace

int main() {
    check_literal_byte();
    check_roundtrip(256, 1, 0.25f, true);
    check_roundtrip(512, 3, 0.0125f, false);  // not an fp16 value
    check_roundtrip(2560, 7, 0.018310546875f, true);
    check_roundtrip(256, 5, 0.0f, true);      // an all-zero tensor's scale
    check_errors();
    return finish("test_i2s");
}
