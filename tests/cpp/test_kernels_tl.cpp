// EDGEQ_TL2 (ternary lookup-table layout, kernels/ternary_lut.h) against independent checks:
//   pack: TQ2_0 / TQ1_0 / F32 matrices -> TL2; unpacking the indices and signs again gives back
//         exactly the reference-dequantized weights (round trip); non-lossless rows are refused.
//   ref:  the TL2 reference matmul equals the TQ reference matmul (ref/ternary.cpp) of the matrix
//         it was packed from, bit for bit; ACT_I8_LUT3's tables equal the pattern sums.
//   ISAs: quantize_act[ACT_I8_LUT3] bytes and matmul bits equal the TL2 reference, on ragged
//         shapes (partial last tiles), random and misaligned row ranges, 1 .. 37 tokens.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ref/ternary_codes.h"
#include "kernels/ternary_lut.h"
#include "test_util.h"

using namespace edgeq;
namespace t = edgeq::test;

namespace {

bool expect(bool ok, const std::string& what) {
    t::counters().comparisons++;
    if (!ok) {
        std::fprintf(stderr, "FAIL %s\n", what.c_str());
        t::counters().failures++;
    }
    return ok;
}

bool expect_bytes_equal(const uint8_t* got, const uint8_t* want, size_t n, const std::string& what) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            return expect(false, what + ": byte " + std::to_string(i) + " got " + std::to_string(got[i]) + " want " +
                                     std::to_string(want[i]));
    return expect(true, what);
}

struct TType {
    uint32_t type;
    const char* name;
    size_t block_bytes;
    size_t d_offset;
};
const TType kTQ2 = {GGML_TQ2_0, "TQ2_0", sizeof(block_tq2_0), offsetof(block_tq2_0, d)};
const TType kTQ1 = {GGML_TQ1_0, "TQ1_0", sizeof(block_tq1_0), offsetof(block_tq1_0, d)};

void set_d(std::vector<uint8_t>& w, const TType& k, size_t row_bytes, int r, int b, float v) {
    const ggml_half h = fp32_to_fp16(v);
    std::memcpy(&w[r * row_bytes + b * k.block_bytes + k.d_offset], &h, 2);
}

// BitNet-like rows: one random |d| per row, each block's sign random; every 8th block all zero
// codes under a different d (as llama.cpp writes them), some blocks d = 0 with non-zero codes,
// some rows all zero. Random TQ1_0 bytes are valid codes; TQ2_0 code 3 is replaced by 0..2.
std::vector<uint8_t> ternary_weights(const TType& k, int n_out, int n_in) {
    const int nb = n_in / QK_K;
    const size_t rb = nb * k.block_bytes;
    std::vector<uint8_t> w = t::random_bytes(rb * n_out);
    std::uniform_real_distribution<float> mag(1e-3f, 2.0f);
    for (int r = 0; r < n_out; r++) {
        const float d = mag(t::rng());
        const bool zero_row = t::rng()() % 11 == 0;
        for (int b = 0; b < nb; b++) {
            uint8_t* blk = &w[r * rb + b * k.block_bytes];
            if (k.type == GGML_TQ2_0)
                for (int i = 0; i < QK_K / 4; i++)
                    for (int l = 0; l < 4; l++)
                        if (((blk[i] >> (2 * l)) & 3) == 3) blk[i] ^= (uint8_t)((1 + t::rng()() % 3) << (2 * l));
            const uint32_t kind = t::rng()() % 8;
            if (zero_row || kind == 0) {  // all codes 1 (value 0): TQ2_0 bit pairs 01, TQ1_0 byte 0x80 (digits 1)
                std::memset(blk, k.type == GGML_TQ2_0 ? 0x55 : 0x80, k.d_offset);
                set_d(w, k, rb, r, b, mag(t::rng()));
            } else if (kind == 1) {
                set_d(w, k, rb, r, b, 0.0f);
            } else {
                set_d(w, k, rb, r, b, (t::rng()() & 1) ? -d : d);
            }
        }
    }
    return w;
}

// TL2 weight (r, k) unpacked from the layout: d_r * sign * pattern coefficient.
float tl_weight(const uint8_t* tl, int n_in, int r, int k) {
    const uint8_t* tile = tl + (size_t)(r / tl::kTileRows) * tl::tile_bytes(n_in);
    const int rr = r % tl::kTileRows, b = k / QK_K, kb = k % QK_K;
    const int j = kb == QK_K - 1 ? tl::kTriples - 1 : kb / 3, pos = kb == QK_K - 1 ? 0 : kb % 3;
    const uint8_t* blk = tile + (size_t)b * tl::kBlockBytes;
    const int idx = (blk[(j / 2) * tl::kTileRows + rr] >> (4 * (j % 2))) & 15;
    const int neg = (blk[tl::kIdxBytes + (j / 8) * tl::kTileRows + rr] >> (j % 8)) & 1;
    ggml_half h;
    std::memcpy(&h, tile + tl::scales_offset(n_in) + 2 * rr, 2);
    if (idx >= tl::kPatterns) return std::numeric_limits<float>::quiet_NaN();
    return fp16_to_fp32(h) * (float)((neg ? -1 : 1) * tl::pattern_coef(idx, pos));
}

std::vector<uint8_t> pack_or_fail(uint32_t type, const uint8_t* w, size_t rb, int n_in, int n_out, const std::string& what) {
    std::vector<uint8_t> out(weight_matrix_bytes(EDGEQ_TL2, n_in, n_out), 0xCD);
    const std::string why = tl::pack(type, w, rb, n_in, n_out, out.data());
    expect(why.empty(), what + ": pack refused: " + why);
    return out;
}

// Round trip: every weight of the TL2 matrix equals the reference dequantization (0 == -0), the
// padding rows of the last tile are zero, and the pad value of each block's last triple is 0.
void check_round_trip(const KernelTable& ref, uint32_t type, const std::vector<uint8_t>& w, size_t rb, int n_in,
                      int n_out, const std::vector<uint8_t>& tl, const std::string& what) {
    std::vector<float> row(n_in);
    bool ok = true;
    for (int r = 0; r < tl::padded_rows(n_out) && ok; r++) {
        if (r < n_out) ref.dequantize_row[type](&w[r * rb], row.data(), n_in);
        else std::fill(row.begin(), row.end(), 0.0f);
        for (int k = 0; k < n_in && ok; k++) {
            const float got = tl_weight(tl.data(), n_in, r, k);
            if (!(got == row[k])) {
                expect(false, what + " round trip: row " + std::to_string(r) + " value " + std::to_string(k) + " got " +
                                  std::to_string(got) + " want " + std::to_string(row[k]));
                ok = false;
            }
        }
        for (int b = 0; b < n_in / QK_K && ok; b++) {  // triple 85 is (value 255, 0, 0): idx 0, 1 or 9
            const uint8_t* tile = tl.data() + (size_t)(r / tl::kTileRows) * tl::tile_bytes(n_in);
            const int idx = tile[b * tl::kBlockBytes + 42 * tl::kTileRows + r % tl::kTileRows] >> 4;
            ok = expect(idx == 0 || idx == 9, what + " last triple index");
        }
    }
    if (ok) expect(true, what + " round trip");
}

std::vector<float> activations(int n, int variant) {
    std::vector<float> x = t::random_floats(n, variant == 4 ? 1e-7f : variant == 5 ? 1e4f : 1.0f);
    if (variant == 1) std::fill(x.begin(), x.end(), 0.0f);
    if (variant == 2) {  // all at +-absmax: |q| = 127 everywhere, the largest block sums
        for (float& v : x) v = v < 0 ? -3.0f : 3.0f;
    }
    if (variant == 3) { x[5] = -4.0f; x[n - 1] = 4.0f; }
    return x;
}

// Quantized activation rows in both formats from the same floats.
void quantize_both(const KernelTable& kt, int n_in, int n_tok, size_t xb_tok, size_t xb_lut, std::vector<uint8_t>& x_tok,
                   std::vector<uint8_t>& x_lut) {
    x_tok.assign(xb_tok * n_tok, 0);
    x_lut.assign(xb_lut * n_tok, 0);
    for (int i = 0; i < n_tok; i++) {
        const std::vector<float> x = activations(n_in, i % 7 == 6 ? 1 : i % 4 == 2 ? 2 : i % 3);
        kt.quantize_act[ACT_I8_TOKEN](x.data(), &x_tok[i * xb_tok], n_in);
        kt.quantize_act[ACT_I8_LUT3](x.data(), &x_lut[i * xb_lut], n_in);
    }
}

// The tables of an ACT_I8_LUT3 row are the pattern sums of the row's int8 values, and the row
// starts with the ACT_I8_TOKEN row.
void check_tables(const KernelTable& ref) {
    for (int n : {256, 768, 2560}) {
        for (int variant = 0; variant < 6; variant++) {
            const std::vector<float> x = activations(n, variant);
            std::vector<uint8_t> tok(act_row_bytes(ACT_I8_TOKEN, n)), lut(act_row_bytes(ACT_I8_LUT3, n));
            ref.quantize_act[ACT_I8_TOKEN](x.data(), tok.data(), n);
            ref.quantize_act[ACT_I8_LUT3](x.data(), lut.data(), n);
            const std::string what = "LUT3 tables n=" + std::to_string(n) + " variant " + std::to_string(variant);
            expect_bytes_equal(lut.data(), tok.data(), tok.size(), what + " (ACT_I8_TOKEN prefix)");
            const int8_t* q = (const int8_t*)lut.data();
            bool ok = true;
            for (int b = 0; b < n / QK_K && ok; b++)
                for (int j = 0; j < tl::kTriples && ok; j++) {
                    const uint8_t* tab = lut.data() + tl::lut3_tables_offset(n) + ((size_t)b * tl::kTriples + j) * 32;
                    const int8_t* v = q + b * QK_K + 3 * j;
                    const int a0 = j < 85 ? v[0] : q[b * QK_K + 255], a1 = j < 85 ? v[1] : 0, a2 = j < 85 ? v[2] : 0;
                    for (int i = 0; i < 16 && ok; i++) {
                        // Independent enumeration: pattern i is the i-th triple, in base-3 order, whose
                        // first non-zero entry is +1 (the zero triple first).
                        int want = 0;
                        if (i < 14) {
                            int seen = -1;
                            for (int c3 = 13; c3 < 27; c3++) {
                                if (++seen != i) continue;
                                want = (c3 / 9 - 1) * a0 + (c3 / 3 % 3 - 1) * a1 + (c3 % 3 - 1) * a2;
                            }
                        }
                        ok = (int16_t)(tab[i] | (tab[16 + i] << 8)) == want;
                        if (!ok) expect(false, what + ": block " + std::to_string(b) + " triple " + std::to_string(j));
                    }
                }
            if (ok) expect(true, what);
        }
    }
}

// TL2 ref == TQ ref on the matrix it came from; every ISA == TL2 ref.
void check_matmul(const KernelTable& ref, const std::vector<std::string>& isas, const TType& k, int n_out, int n_in) {
    const size_t rb = n_in / QK_K * k.block_bytes;
    const std::vector<uint8_t> w = ternary_weights(k, n_out, n_in);
    const std::string shape = std::string(k.name) + " n_out=" + std::to_string(n_out) + " n_in=" + std::to_string(n_in);
    const std::vector<uint8_t> tlw = pack_or_fail(k.type, w.data(), rb, n_in, n_out, shape);
    check_round_trip(ref, k.type, w, rb, n_in, n_out, tlw, shape);
    const size_t tl_rb = weight_row_bytes(EDGEQ_TL2, n_in);
    const float nan = std::numeric_limits<float>::quiet_NaN();

    for (int n_tok : {1, 2, 5, 37}) {
        const size_t xb_tok = act_row_bytes(ACT_I8_TOKEN, n_in), xb_lut = act_row_bytes(ACT_I8_LUT3, n_in) + 64 * (n_tok % 2);
        std::vector<uint8_t> x_tok, x_lut;
        quantize_both(ref, n_in, n_tok, xb_tok, xb_lut, x_tok, x_lut);
        const size_t ldy = n_out + 5;
        const std::string what = shape + " n_tok=" + std::to_string(n_tok);

        std::vector<float> want(ldy * n_tok, nan), got(ldy * n_tok, nan);
        ref.matmul[k.type].fn(w.data(), rb, x_tok.data(), xb_tok, want.data(), ldy, n_in, n_tok, 0, n_out);
        ref.matmul[EDGEQ_TL2].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, got.data(), ldy, n_in, n_tok, 0, n_out);
        t::expect_bits_equal(got.data(), want.data(), got.size(), "TL2 ref vs " + std::string(k.name) + " ref " + what);

        for (const std::string& name : isas) {
            const KernelTable& isa = kernels_for(name);
            // Its own quantizer: the same bytes as the reference's.
            std::vector<uint8_t> xi_tok, xi_lut;
            t::rng().seed(1000 + n_tok);
            quantize_both(ref, n_in, n_tok, xb_tok, xb_lut, x_tok, x_lut);
            t::rng().seed(1000 + n_tok);
            quantize_both(isa, n_in, n_tok, xb_tok, xb_lut, xi_tok, xi_lut);
            for (int i = 0; i < n_tok; i++)
                expect_bytes_equal(&xi_lut[i * xb_lut], &x_lut[i * xb_lut], act_row_bytes(ACT_I8_LUT3, n_in),
                                   std::string(name) + " quantize LUT3 " + what);
            // Whole range, a tile-aligned split and a random (misaligned) range.
            std::uniform_int_distribution<int> pick(0, n_out);
            int r0 = pick(t::rng()), r1 = pick(t::rng());
            if (r0 > r1) std::swap(r0, r1);
            const int mid = std::min(n_out, tl::kTileRows * (1 + (n_out / tl::kTileRows) / 2));
            for (auto [row0, row1] : {std::pair{0, n_out}, std::pair{0, mid}, std::pair{mid, n_out}, std::pair{r0, r1}}) {
                std::vector<float> w_ref(ldy * n_tok, nan), w_isa(ldy * n_tok, nan);
                ref.matmul[EDGEQ_TL2].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, w_ref.data(), ldy, n_in, n_tok, row0, row1);
                isa.matmul[EDGEQ_TL2].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, w_isa.data(), ldy, n_in, n_tok, row0, row1);
                t::expect_bits_equal(w_isa.data(), w_ref.data(), w_isa.size(),
                                     name + " TL2 matmul " + what + " rows [" + std::to_string(row0) + "," +
                                         std::to_string(row1) + ")");
            }
        }
    }
}

// The packer's whole-block code decoders equal the reference's per-value ones.
void check_bulk_codes() {
    bool ok = true;
    for (int i = 0; i < 50 && ok; i++) {
        const std::vector<uint8_t> bytes = t::random_bytes(sizeof(block_tq2_0));
        block_tq2_0 b2;
        block_tq1_0 b1;
        std::memcpy(&b2, bytes.data(), sizeof b2);
        std::memcpy(&b1, bytes.data(), sizeof b1);
        uint8_t c2[QK_K], c1[QK_K];
        ref::tq2_0_codes(b2, c2);
        ref::tq1_0_codes(b1, c1);
        for (int k = 0; k < QK_K && ok; k++) ok = c2[k] == ref::tq2_0_code(b2, k) && c1[k] == ref::tq1_0_code(b1, k);
    }
    expect(ok, "bulk TQ2_0 / TQ1_0 codes equal the per-value codes");
}

// Lossless-conversion refusals (and an F32 ternary matrix, through the generic float path).
void check_refusals(const KernelTable& ref) {
    const int n_in = 512, n_out = 5;
    auto refused = [&](uint32_t type, const std::vector<uint8_t>& w, size_t rb, const std::string& expect_in,
                       const std::string& what) {
        std::vector<uint8_t> out(weight_matrix_bytes(EDGEQ_TL2, n_in, n_out));
        const std::string why = tl::pack(type, w.data(), rb, n_in, n_out, out.data());
        expect(!why.empty() && why.find(expect_in) != std::string::npos, what + ": got '" + why + "'");
    };
    for (const TType& k : {kTQ2, kTQ1}) {
        const size_t rb = 2 * k.block_bytes;
        std::vector<uint8_t> w = ternary_weights(k, n_out, n_in);
        for (int r = 0; r < n_out; r++) {  // non-zero codes everywhere (a byte of code 2 / digit-2 values)
            std::memset(&w[r * rb], k.type == GGML_TQ2_0 ? 0xAA : 0xFF, k.d_offset);
            std::memset(&w[r * rb + k.block_bytes], k.type == GGML_TQ2_0 ? 0xAA : 0xFF, k.d_offset);
            set_d(w, k, rb, r, 0, 0.5f);
            set_d(w, k, rb, r, 1, -0.5f);  // same |d|: fine
        }
        std::vector<uint8_t> out(weight_matrix_bytes(EDGEQ_TL2, n_in, n_out));
        expect(tl::pack(k.type, w.data(), rb, n_in, n_out, out.data()).empty(), std::string(k.name) + " +-d accepted");
        std::vector<uint8_t> bad = w;
        set_d(bad, k, rb, 3, 1, 0.25f);
        refused(k.type, bad, rb, "row 3: block 1 has scale 0.25 but block 0 has 0.5", std::string(k.name) + " two scales");
        bad = w;
        set_d(bad, k, rb, 2, 0, std::numeric_limits<float>::infinity());
        refused(k.type, bad, rb, "row 2: block 0 has a non-finite scale", std::string(k.name) + " inf scale");
        if (k.type == GGML_TQ2_0) {
            bad = w;
            bad[4 * rb + 7] = 0xFF;
            refused(k.type, bad, rb, "row 4: block 0 holds code 3", "TQ2_0 code 3");
        }
    }
    // F32: ternary rows convert (and round-trip), a fourth value is refused.
    std::vector<float> f(n_in * n_out);
    for (size_t i = 0; i < f.size(); i++) f[i] = 0.375f * (float)((int)(t::rng()() % 3) - 1);
    std::vector<uint8_t> wf(f.size() * 4);
    std::memcpy(wf.data(), f.data(), wf.size());
    const std::vector<uint8_t> tlw = pack_or_fail(GGML_F32, wf.data(), n_in * 4, n_in, n_out, "F32 ternary");
    check_round_trip(ref, GGML_F32, wf, n_in * 4, n_in, n_out, tlw, "F32 ternary");
    f[n_in + 9] = 0.5f;
    std::memcpy(wf.data(), f.data(), wf.size());
    refused(GGML_F32, wf, n_in * 4, "row 1: value 9 has scale 0.5", "F32 two magnitudes");
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    const std::vector<std::string> isas = t::isas_under_test();
    for (const std::string& name : isas)
        expect(kernels_for(name).matmul[EDGEQ_TL2].act == ACT_I8_LUT3, name + " TL2 matmul takes ACT_I8_LUT3");
    check_tables(ref);
    check_bulk_codes();
    check_refusals(ref);
    for (const TType* k : {&kTQ2, &kTQ1})
        for (int n_out : {1, 17, 64, 67, 130})
            for (int n_in : {256, 768, 2560}) check_matmul(ref, isas, *k, n_out, n_in);
    check_matmul(ref, isas, kTQ2, 100, 6912);
    return t::finish("test_kernels_tl");
}
