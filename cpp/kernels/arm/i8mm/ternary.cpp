// i8mm ternary matmuls: TQ2_0 and TQ1_0 weights with ACT_I8_TOKEN activations, bit-exact with
// cpp/kernels/ref/ternary.cpp. Prompts (two or more tokens per chunk) multiply 2 weight rows x 2
// tokens per SMMLA; decode keeps the dotprod tier's SDOT dot1, and so does everything else of
// the shared ARM kernel (kernels/arm/ternary_tiles.h): its 8-row tiles, the loop nest
// (kernels/ternary_driver.h), the per-lane float order and finish.
//
// Decode: both formats store 16 consecutive values of a row per (16 packed bytes, bit pair or
// base-3 digit), so each row of a block decodes into 16 vectors of codes 0..2 in value order
// (chunks c: values 16 c .. 16 c + 15), no transposes; two rows' chunks are then paired into the
// SMMLA operands (i8mm.h: pair_rows), as are two tokens' activations. Per (row pair, token pair)
// the 32 SMMLA of a block give the exact int32 sums sum_k c_k q_k in 2 x 2 order; UZP1 / UZP2
// of two row pairs turn them into the shared kernel's row lanes, and the rest is its arithmetic:
//   acc_r = fma(d_r, (float)(sum_k c_k q_k - bsum_b), acc_r).
#include "kernels/arm/dotprod/dotprod.h"
#include "kernels/arm/i8mm/i8mm.h"
#include "kernels/arm/ternary_tiles.h"

namespace edgeq::i8mm {
namespace {

// Formats: chunks(row, b, out) -> out[c] = the codes of values 16 c .. 16 c + 15 of block b.
struct TQ2Chunks {
    using Fmt = arm::TQ2;
    // qs byte i, bit pair l -> value 128 (i / 32) + 32 l + i % 32: 16 bytes 16 h .. give chunk
    // 8 (h / 2) + 2 l + h % 2.
    static void chunks(const uint8_t* row, int b, int8x16_t out[16]) {
        const block_tq2_0& blk = ((const block_tq2_0*)row)[b];
        const uint8x16_t m3 = vdupq_n_u8(3);
        for (int h = 0; h < 4; h++) {
            const uint8x16_t v = vld1q_u8(blk.qs + 16 * h);
            const int c = 8 * (h / 2) + h % 2;
            out[c] = vreinterpretq_s8_u8(vandq_u8(v, m3));
            out[c + 2] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3));
            out[c + 4] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3));
            out[c + 6] = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
        }
    }
};

struct TQ1Chunks {
    using Fmt = arm::TQ1;
    // qs bytes 0..31, digit n -> value 32 n + i (chunks 2 n, 2 n + 1); qs bytes 32..47, digit n ->
    // value 160 + 16 n + (i - 32) (chunk 10 + n); qh bytes 0..3, digit n -> value 240 + 4 n + i
    // (chunk 15: the 4 bytes repeated, group n of 4 lanes times 3^n).
    static void chunks(const uint8_t* row, int b, int8x16_t out[16]) {
        const block_tq1_0& blk = ((const block_tq1_0*)row)[b];
        static constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
        const uint8x16_t q0 = vld1q_u8(blk.qs), q1 = vld1q_u8(blk.qs + 16), q2 = vld1q_u8(blk.qs + 32);
        for (int n = 0; n < 5; n++) {
            const uint8x16_t p = vdupq_n_u8(pow3[n]);
            out[2 * n] = vreinterpretq_s8_u8(arm::top_digit(vmulq_u8(q0, p)));
            out[2 * n + 1] = vreinterpretq_s8_u8(arm::top_digit(vmulq_u8(q1, p)));
            out[10 + n] = vreinterpretq_s8_u8(arm::top_digit(vmulq_u8(q2, p)));
        }
        static constexpr uint8_t pow3_groups[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
        uint32_t qh;
        std::memcpy(&qh, blk.qh, 4);
        const uint8x16_t h = vreinterpretq_u8_u32(vdupq_n_u32(qh));
        out[15] = vreinterpretq_s8_u8(arm::top_digit(vmulq_u8(h, vld1q_u8(pow3_groups))));
    }
};

// The kernel class of ternary_driver.h: the shared dotprod kernel with its prompt path replaced.
template <class C>
struct MmlaKernel : arm::TernaryKernel<typename C::Fmt, dotprod::Dot> {
    using Base = arm::TernaryKernel<typename C::Fmt, dotprod::Dot>;
    using Base::kLanes;
    static constexpr int kPairs = kLanes / 2;  // row pairs of a tile
    struct Tile {
        int8x16_t W[16][kPairs][2];  // chunk c, row pair p: the two SMMLA operands (values 16 c + 8 k ..)
        float32x4_t d[Base::kHalves];
    };

    static void decode(const uint8_t* const rows[kLanes], int b, Tile& tile) {
        for (int p = 0; p < kPairs; p++) {
            int8x16_t u[16], v[16];
            C::chunks(rows[2 * p], b, u);
            C::chunks(rows[2 * p + 1], b, v);
            for (int c = 0; c < 16; c++) pair_rows(u[c], v[c], tile.W[c][p]);
        }
        for (int h = 0; h < Base::kHalves; h++) tile.d[h] = Base::scales(rows + 4 * h, b);
    }

    // facc[8 t + r] = fma(d_r, isum(r, t), facc[8 t + r]) for tokens t < G of block b; an odd last
    // token is paired with itself and its copy dropped.
    template <int G>
    static void group(const Tile& tile, const uint8_t* X, size_t x_row_bytes, int n_in, int b, float* facc) {
        constexpr int TP = (G + 1) / 2;
        const int8_t* x[2 * TP];
        for (int t = 0; t < 2 * TP; t++) x[t] = (const int8_t*)(X + (size_t)(t < G ? t : G - 1) * x_row_bytes) + b * QK_K;
        int32x4_t acc[kPairs][TP];  // lanes (row 2p, token 2q), (2p, 2q + 1), (2p + 1, 2q), (2p + 1, 2q + 1)
        for (int p = 0; p < kPairs; p++)
            for (int q = 0; q < TP; q++) acc[p][q] = vdupq_n_s32(0);
        for (int c = 0; c < 16; c++) {
            int8x16_t xv[TP][2];
            for (int q = 0; q < TP; q++) pair_rows(vld1q_s8(x[2 * q] + 16 * c), vld1q_s8(x[2 * q + 1] + 16 * c), xv[q]);
#pragma GCC unroll 4
            for (int p = 0; p < kPairs; p++)
#pragma GCC unroll 2
                for (int q = 0; q < TP; q++)
                    acc[p][q] = vmmlaq_s32(vmmlaq_s32(acc[p][q], tile.W[c][p][0], xv[q][0]), tile.W[c][p][1], xv[q][1]);
        }
        for (int q = 0; q < TP; q++)
            for (int h = 0; h < Base::kHalves; h++) {
                // Row pairs 2h, 2h + 1 = rows 4h .. 4h + 3: even lanes token 2q, odd lanes token 2q + 1.
                const int32x4_t tok[2] = {vuzp1q_s32(acc[2 * h][q], acc[2 * h + 1][q]),
                                          vuzp2q_s32(acc[2 * h][q], acc[2 * h + 1][q])};
                for (int j = 0; j < 2 && 2 * q + j < G; j++) {
                    const int t = 2 * q + j;
                    const uint8_t* xrow = X + (size_t)t * x_row_bytes;
                    const int32x4_t bsum = vdupq_n_s32(arm::load_i32(xrow + i8_token_bsum_offset(n_in) + 4 * b));
                    float* f = facc + kLanes * t + 4 * h;
                    vst1q_f32(f, vfmaq_f32(vld1q_f32(f), tile.d[h], vcvtq_f32_s32(vsubq_s32(tok[j], bsum))));
                }
            }
    }
};

}  // namespace

void register_ternary(KernelTable& t) {
    t.matmul[GGML_TQ2_0] = {ACT_I8_TOKEN, ternary::matmul<MmlaKernel<TQ2Chunks>>};
    t.matmul[GGML_TQ1_0] = {ACT_I8_TOKEN, ternary::matmul<MmlaKernel<TQ1Chunks>>};
}

}  // namespace edgeq::i8mm
