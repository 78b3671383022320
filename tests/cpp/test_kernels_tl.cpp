// The ternary lookup-table layouts EDGEQ_TL2 (kernels/ternary_lut.h) and EDGEQ_TL2D
// (kernels/ternary_lut_dword.h), each against independent checks:
//   pack: TQ2_0 / TQ1_0 / F32 matrices -> the layout; unpacking the indices and signs again gives
//         back exactly the reference-dequantized weights (round trip); non-lossless rows are refused.
//   ref:  the layout's reference matmul equals the TQ reference matmul (ref/ternary.cpp) of the
//         matrix it was packed from, bit for bit; its activation tables equal the pattern sums.
//   ISAs: quantize_act bytes and matmul bits equal the layout's reference, on ragged shapes
//         (partial last tiles), random and misaligned row ranges, 1 .. 37 tokens.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ref/ternary_codes.h"
#include "kernels/ternary_lut.h"
#include "kernels/ternary_lut_dword.h"
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

// What the checks need to know of a layout, written from its header's description (not from
// the kernels): where a triple's index / sign and a row's scale are, and where an activation
// row's table entry (triple j, negated or not, pattern i) is.
struct Layout {
    uint32_t type;
    ActType act;
    const char* name;
    int triples;  // per block, padding triples included
    std::string (*pack)(uint32_t, const uint8_t*, size_t, int, int, uint8_t*);
    void (*code)(const uint8_t* tile, int n_in, int rr, int b, int j, int& idx, int& neg);
    size_t (*scales_offset)(int n_in);
    size_t (*tile_bytes)(int n_in);
    // int16 table value of (block b, triple j, neg, pattern i) in an activation row of n values
    int (*table_value)(const uint8_t* row, int n, int b, int j, int neg, int i);
};

const Layout kTL2 = {
    EDGEQ_TL2, ACT_I8_LUT3, "TL2", tl::kTriples, tl::pack,
    [](const uint8_t* tile, int, int rr, int b, int j, int& idx, int& neg) {
        const uint8_t* blk = tile + (size_t)b * tl::kBlockBytes;
        idx = (blk[(j / 2) * tl::kTileRows + rr] >> (4 * (j % 2))) & 15;
        neg = (blk[tl::kIdxBytes + (j / 8) * tl::kTileRows + rr] >> (j % 8)) & 1;
    },
    tl::scales_offset, tl::tile_bytes,
    [](const uint8_t* row, int n, int b, int j, int neg, int i) {
        const uint8_t* tab = row + tl::lut3_tables_offset(n) + ((size_t)b * tl::kTriples + j) * 32;
        const int v = (int16_t)(tab[i] | (tab[16 + i] << 8));
        return neg ? -v : v;  // TL2 tables hold the positive sums only
    },
};

const Layout kTL2D = {
    EDGEQ_TL2D, ACT_I8_LUT3S, "TL2D", tld::kTriples, tl::pack_dword,
    [](const uint8_t* tile, int, int rr, int b, int j, int& idx, int& neg) {
        const uint8_t* blk = tile + (size_t)b * tld::kBlockBytes;
        // octet j / 8, group of 16 rows rr / 16, 80 bytes each: 64 index bytes, two sign words
        const uint8_t* grp = blk + ((size_t)(j / 8) * 4 + rr / 16) * 80;
        const int half = (j % 8) / 4, slot = j % 4, lane = 4 * (rr % 16) + slot;
        idx = (grp[lane] >> (4 * half)) & 15;
        neg = (grp[64 + 8 * half + lane / 8] >> (lane % 8)) & 1;
    },
    tld::scales_offset, tld::tile_bytes,
    [](const uint8_t* row, int n, int b, int j, int neg, int i) {
        // block b: 11 octets x 2 halves x [loA loB hiA hiB] of 64 bytes; slot s in table s / 2 at
        // 32 (s % 2) + 16 neg + i
        const uint8_t* half = row + act_row_bytes(ACT_I8_TOKEN, n) + (size_t)b * 5632 + ((j / 8) * 2 + (j % 8) / 4) * 256;
        const int s = j % 4, at = (s / 2) * 64 + 32 * (s % 2) + 16 * neg + i;
        return (int)(int16_t)(half[at] | (half[at + 128] << 8));
    },
};

// Weight (r, k) unpacked from the layout: d_r * sign * pattern coefficient.
float tl_weight(const Layout& L, const uint8_t* tl, int n_in, int r, int k) {
    const uint8_t* tile = tl + (size_t)(r / tl::kTileRows) * L.tile_bytes(n_in);
    const int rr = r % tl::kTileRows, b = k / QK_K, kb = k % QK_K;
    const int j = kb == QK_K - 1 ? tl::kTriples - 1 : kb / 3, pos = kb == QK_K - 1 ? 0 : kb % 3;
    int idx, neg;
    L.code(tile, n_in, rr, b, j, idx, neg);
    ggml_half h;
    std::memcpy(&h, tile + L.scales_offset(n_in) + 2 * rr, 2);
    if (idx >= tl::kPatterns) return std::numeric_limits<float>::quiet_NaN();
    return fp16_to_fp32(h) * (float)((neg ? -1 : 1) * tl::pattern_coef(idx, pos));
}

std::vector<uint8_t> pack_or_fail(const Layout& L, uint32_t type, const uint8_t* w, size_t rb, int n_in, int n_out,
                                  const std::string& what) {
    std::vector<uint8_t> out(weight_matrix_bytes(L.type, n_in, n_out), 0xCD);
    const std::string why = L.pack(type, w, rb, n_in, n_out, out.data());
    expect(why.empty(), what + ": pack refused: " + why);
    return out;
}

// Round trip: every weight of the packed matrix equals the reference dequantization (0 == -0),
// the padding rows of the last tile are zero, the pad value of each block's last triple is 0 and
// padding triples (TL2D's 86, 87) are zero.
void check_round_trip(const Layout& L, const KernelTable& ref, uint32_t type, const std::vector<uint8_t>& w, size_t rb,
                      int n_in, int n_out, const std::vector<uint8_t>& tl, const std::string& what) {
    std::vector<float> row(n_in);
    bool ok = true;
    for (int r = 0; r < tl::padded_rows(n_out) && ok; r++) {
        if (r < n_out) ref.dequantize_row[type](&w[r * rb], row.data(), n_in);
        else std::fill(row.begin(), row.end(), 0.0f);
        for (int k = 0; k < n_in && ok; k++) {
            const float got = tl_weight(L, tl.data(), n_in, r, k);
            if (!(got == row[k])) {
                expect(false, what + " round trip: row " + std::to_string(r) + " value " + std::to_string(k) + " got " +
                                  std::to_string(got) + " want " + std::to_string(row[k]));
                ok = false;
            }
        }
        for (int b = 0; b < n_in / QK_K && ok; b++) {  // triple 85 is (value 255, 0, 0): idx 0, 1 or 9
            const uint8_t* tile = tl.data() + (size_t)(r / tl::kTileRows) * L.tile_bytes(n_in);
            int idx, neg;
            L.code(tile, n_in, r % tl::kTileRows, b, tl::kTriples - 1, idx, neg);
            ok = expect(idx == 0 || idx == 9, what + " last triple index");
            for (int j = tl::kTriples; j < L.triples && ok; j++) {
                L.code(tile, n_in, r % tl::kTileRows, b, j, idx, neg);
                ok = expect(idx == 0 && neg == 0, what + " padding triple is zero");
            }
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

// Quantized activation rows in both formats (ACT_I8_TOKEN, the layout's) from the same floats.
void quantize_both(const Layout& L, const KernelTable& kt, int n_in, int n_tok, size_t xb_tok, size_t xb_lut,
                   std::vector<uint8_t>& x_tok, std::vector<uint8_t>& x_lut) {
    x_tok.assign(xb_tok * n_tok, 0);
    x_lut.assign(xb_lut * n_tok, 0);
    for (int i = 0; i < n_tok; i++) {
        const std::vector<float> x = activations(n_in, i % 7 == 6 ? 1 : i % 4 == 2 ? 2 : i % 3);
        kt.quantize_act[ACT_I8_TOKEN](x.data(), &x_tok[i * xb_tok], n_in);
        kt.quantize_act[L.act](x.data(), &x_lut[i * xb_lut], n_in);
    }
}

// The tables of the layout's activation row are the pattern sums of the row's int8 values (and
// their negations), padding triples' tables are zero, and the row starts with the ACT_I8_TOKEN row.
void check_tables(const Layout& L, const KernelTable& ref) {
    for (int n : {256, 768, 2560}) {
        for (int variant = 0; variant < 6; variant++) {
            const std::vector<float> x = activations(n, variant);
            std::vector<uint8_t> tok(act_row_bytes(ACT_I8_TOKEN, n)), lut(act_row_bytes(L.act, n));
            ref.quantize_act[ACT_I8_TOKEN](x.data(), tok.data(), n);
            ref.quantize_act[L.act](x.data(), lut.data(), n);
            const std::string what = std::string(L.name) + " tables n=" + std::to_string(n) + " variant " + std::to_string(variant);
            expect_bytes_equal(lut.data(), tok.data(), tok.size(), what + " (ACT_I8_TOKEN prefix)");
            const int8_t* q = (const int8_t*)lut.data();
            bool ok = true;
            for (int b = 0; b < n / QK_K && ok; b++)
                for (int j = 0; j < L.triples && ok; j++) {
                    const int8_t* v = q + b * QK_K + 3 * j;
                    const int a0 = j < 85 ? v[0] : j == 85 ? q[b * QK_K + 255] : 0;
                    const int a1 = j < 85 ? v[1] : 0, a2 = j < 85 ? v[2] : 0;
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
                        ok = L.table_value(lut.data(), n, b, j, 0, i) == want &&
                             L.table_value(lut.data(), n, b, j, 1, i) == -want;
                        if (!ok) expect(false, what + ": block " + std::to_string(b) + " triple " + std::to_string(j));
                    }
                }
            if (ok) expect(true, what);
        }
    }
}

// The layout's ref == TQ ref on the matrix it came from; every ISA == the layout's ref.
void check_matmul(const Layout& L, const KernelTable& ref, const std::vector<std::string>& isas, const TType& k,
                  int n_out, int n_in) {
    const size_t rb = n_in / QK_K * k.block_bytes;
    const std::vector<uint8_t> w = ternary_weights(k, n_out, n_in);
    const std::string shape = std::string(L.name) + " from " + k.name + " n_out=" + std::to_string(n_out) +
                              " n_in=" + std::to_string(n_in);
    const std::vector<uint8_t> tlw = pack_or_fail(L, k.type, w.data(), rb, n_in, n_out, shape);
    check_round_trip(L, ref, k.type, w, rb, n_in, n_out, tlw, shape);
    const size_t tl_rb = weight_row_bytes(L.type, n_in);
    const float nan = std::numeric_limits<float>::quiet_NaN();

    for (int n_tok : {1, 2, 5, 37}) {
        const size_t xb_tok = act_row_bytes(ACT_I8_TOKEN, n_in), xb_lut = act_row_bytes(L.act, n_in) + 64 * (n_tok % 2);
        std::vector<uint8_t> x_tok, x_lut;
        quantize_both(L, ref, n_in, n_tok, xb_tok, xb_lut, x_tok, x_lut);
        const size_t ldy = n_out + 5;
        const std::string what = shape + " n_tok=" + std::to_string(n_tok);

        std::vector<float> want(ldy * n_tok, nan), got(ldy * n_tok, nan);
        ref.matmul[k.type].fn(w.data(), rb, x_tok.data(), xb_tok, want.data(), ldy, n_in, n_tok, 0, n_out);
        ref.matmul[L.type].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, got.data(), ldy, n_in, n_tok, 0, n_out);
        t::expect_bits_equal(got.data(), want.data(), got.size(), std::string(L.name) + " ref vs " + k.name + " ref " + what);

        for (const std::string& name : isas) {
            const KernelTable& isa = kernels_for(name);
            // Its own quantizer: the same bytes as the reference's.
            std::vector<uint8_t> xi_tok, xi_lut;
            t::rng().seed(1000 + n_tok);
            quantize_both(L, ref, n_in, n_tok, xb_tok, xb_lut, x_tok, x_lut);
            t::rng().seed(1000 + n_tok);
            quantize_both(L, isa, n_in, n_tok, xb_tok, xb_lut, xi_tok, xi_lut);
            for (int i = 0; i < n_tok; i++)
                expect_bytes_equal(&xi_lut[i * xb_lut], &x_lut[i * xb_lut], act_row_bytes(L.act, n_in),
                                   name + " quantize " + act_type_name(L.act) + " " + what);
            // Whole range, a tile-aligned split and a random (misaligned) range.
            std::uniform_int_distribution<int> pick(0, n_out);
            int r0 = pick(t::rng()), r1 = pick(t::rng());
            if (r0 > r1) std::swap(r0, r1);
            const int mid = std::min(n_out, tl::kTileRows * (1 + (n_out / tl::kTileRows) / 2));
            for (auto [row0, row1] : {std::pair{0, n_out}, std::pair{0, mid}, std::pair{mid, n_out}, std::pair{r0, r1}}) {
                std::vector<float> w_ref(ldy * n_tok, nan), w_isa(ldy * n_tok, nan);
                ref.matmul[L.type].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, w_ref.data(), ldy, n_in, n_tok, row0, row1);
                isa.matmul[L.type].fn(tlw.data(), tl_rb, x_lut.data(), xb_lut, w_isa.data(), ldy, n_in, n_tok, row0, row1);
                t::expect_bits_equal(w_isa.data(), w_ref.data(), w_isa.size(),
                                     name + " " + L.name + " matmul " + what + " rows [" + std::to_string(row0) + "," +
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
void check_refusals(const Layout& L, const KernelTable& ref) {
    const int n_in = 512, n_out = 5;
    auto refused = [&](uint32_t type, const std::vector<uint8_t>& w, size_t rb, const std::string& expect_in,
                       const std::string& what) {
        std::vector<uint8_t> out(weight_matrix_bytes(L.type, n_in, n_out));
        const std::string why = L.pack(type, w.data(), rb, n_in, n_out, out.data());
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
        std::vector<uint8_t> out(weight_matrix_bytes(L.type, n_in, n_out));
        expect(L.pack(k.type, w.data(), rb, n_in, n_out, out.data()).empty(), std::string(k.name) + " +-d accepted");
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
    const std::vector<uint8_t> tlw = pack_or_fail(L, GGML_F32, wf.data(), n_in * 4, n_in, n_out, "F32 ternary");
    check_round_trip(L, ref, GGML_F32, wf, n_in * 4, n_in, n_out, tlw, std::string(L.name) + " F32 ternary");
    f[n_in + 9] = 0.5f;
    std::memcpy(wf.data(), f.data(), wf.size());
    refused(GGML_F32, wf, n_in * 4, "row 1: value 9 has scale 0.5", "F32 two magnitudes");
}

}  // namespace

int main() {
    const KernelTable& ref = kernels_for("ref");
    const std::vector<std::string> isas = t::isas_under_test();
    check_bulk_codes();
    for (const Layout* L : {&kTL2, &kTL2D}) {
        for (const std::string& name : isas)
            expect(kernels_for(name).matmul[L->type].act == L->act,
                   name + " " + L->name + " matmul takes " + act_type_name(L->act));
        check_tables(*L, ref);
        check_refusals(*L, ref);
        for (const TType* k : {&kTQ2, &kTQ1})
            for (int n_out : {1, 17, 64, 67, 130})
                for (int n_in : {256, 768, 2560}) check_matmul(*L, ref, isas, *k, n_out, n_in);
        check_matmul(*L, ref, isas, kTQ2, 100, 6912);
    }
    // Which tables run TL2D natively (AVX-512 VBMI) rather than through the reference: printed.
    for (const std::string& name : isas)
        std::printf("%s: TL2D kernel %s\n", name.c_str(),
                    kernels_for(name).matmul[EDGEQ_TL2D].fn == ref.matmul[EDGEQ_TL2D].fn && name != "ref" ? "= ref" : "own");
    return t::finish("test_kernels_tl");
}
