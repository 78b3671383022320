// The kernel table: every compute kernel edgeq has, for one ISA. dispatch.cpp fills one table
// per ISA the host can run (starting from the scalar reference and overlaying what the ISA
// implements), and model code calls kernels only through a table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/quant_types.h"

namespace edgeq {

// Activation formats a weight kernel consumes. The forward pass quantizes an activation row
// once per format and shares it between all matmuls that read the same input.
enum ActType : int {
    ACT_F32 = 0,   // plain float rows
    ACT_Q8_0 = 1,  // block_q8_0 rows (for Q4_0, Q8_0 weights)
    ACT_Q8_1 = 2,  // block_q8_1 rows (for Q4_1 weights)
    ACT_Q8_K = 3,  // block_q8_K rows (for Q4_K, Q6_K weights)
    ACT_I8_TOKEN = 4,  // one int8 row per token, one scale (for TQ1_0, TQ2_0; see below)
    ACT_I8_LUT3 = 5,   // the ACT_I8_TOKEN row + lookup tables of its triples (for EDGEQ_TL2; ternary_lut.h)
    ACT_Q8_PLANES = 6, // block_q8_planes rows: int8 per 128 values as bit planes (for Q1_0)
    ACT_B1 = 7,        // block_b1 rows: sign bits per 128 values (Q1_0's opt-in binary mode)
    ACT_I8_LUT3S = 8,  // the ACT_I8_TOKEN row + signed tables of its triples (for EDGEQ_TL2D; ternary_lut_dword.h)
    kNumActTypes = 9,
};

// ACT_I8_TOKEN row of n values (n % 256 == 0), bitnet.cpp's quantize_row_i8_s:
//   int8 q[n] | float s | int32 bsum[n / 256] | zero padding to a multiple of 64 bytes
// s = (float)(127 / max(1e-5, max|x|)) (in double, as bitnet.cpp), q = clamp(round_half_even(x * s),
// -128, 127), x ~ q / s; bsum[b] = sum of q over values 256 b .. 256 b + 255.
inline size_t i8_token_scale_offset(int n) { return (size_t)n; }
inline size_t i8_token_bsum_offset(int n) { return (size_t)n + 4; }

// ACT_Q8_PLANES row of n values (n % 128 == 0): n / 128 block_q8_planes (quant_types.h). Per block
// of 128: d = amax / 127 (float), q[j] = d != 0 ? round_half_even(x[j] / d) : 0 (so |q| <= 127),
// sum = sum_j q[j], q stored as 8 bit planes. One float scale per 128 values, matching Q1_0's block.

// ACT_B1 row of n values (n % 128 == 0): n / 128 block_b1 (quant_types.h). Per block of 128:
// d = (sum_j |x[j]|, in float, j in order) / 128, bit j set iff x[j] >= 0 (llama.cpp's
// quantize_row_q1_0_ref with d kept in float). A much coarser input than ACT_Q8_PLANES: the
// results of Q1_0 . ACT_B1 (XNOR-popcount) are a different, cheaper approximation of W x.

// Values per block of activation format `act` (1 for ACT_F32).
int act_block_size(ActType act);
// Bytes of one activation row of n values in format `act` (n a multiple of the block size).
size_t act_row_bytes(ActType act, int n);
// Block size (values per block) and bytes per block of a GGUF weight type; 0 if unknown.
int ggml_block_size(uint32_t type);
size_t ggml_type_size(uint32_t type);
const char* ggml_type_name(uint32_t type);
// Name of an activation format ("F32", "Q8_0", ..., "I8_TOKEN"); "unknown" outside the enum.
const char* act_type_name(int act);
// Bytes of one weight row of n values (n a multiple of the block size): blocks plus any per-row
// extra of an edgeq-internal layout (EDGEQ_TL2 keeps one fp16 scale per row).
size_t weight_row_bytes(uint32_t type, int n);
// An edgeq-internal layout made at load time (EDGEQ_TL2, EDGEQ_*X16), never a file's tensor type.
bool is_internal_type(uint32_t type);
// Output rows a matmul kernel of this weight type computes together (EDGEQ_TL2: 64, x16: 16, else 1). Its
// matrices hold n_out rounded up to it (weight_matrix_bytes), and callers that split rows between
// threads should split on multiples of it (any split is correct; a misaligned one recomputes).
int matmul_row_tile(uint32_t type);
size_t weight_matrix_bytes(uint32_t type, int n_in, int n_out);

// Y (n_tok, n_out) = X (n_tok, n_in) @ W (n_out, n_in)^T, for output rows [row0, row1) only
// (threads split rows). W: n_out rows of GGUF blocks, w_row_bytes apart. Xq: n_tok rows of
// quantized activations (format MatmulKernel::act), x_row_bytes apart. Y[t * ldy + r].
using MatmulFn = void (*)(const void* W, size_t w_row_bytes, const void* Xq, size_t x_row_bytes,
                          float* Y, size_t ldy, int n_in, int n_tok, int row0, int row1);
struct MatmulKernel {
    ActType act = ACT_F32;
    MatmulFn fn = nullptr;  // nullptr: this weight type cannot be multiplied
};

// x (n) float -> xq (one activation row in some ActType). n is a multiple of the block size.
using QuantizeActFn = void (*)(const float* x, void* xq, int n);
// One weight row of n values (n a multiple of the block size) -> float.
using DequantizeRowFn = void (*)(const void* w, float* y, int n);
// One float row of n values (n a multiple of the block size) -> GGUF blocks of a weight type.
using QuantizeRowFn = void (*)(const float* x, void* w, int n);

struct KernelTable {
    const char* name = "ref";  // "ref", "avx2", "avx512", "neon", "dotprod", "i8mm"
    MatmulKernel matmul[kNumGgmlTypes];
    DequantizeRowFn dequantize_row[kNumGgmlTypes] = {};
    QuantizeRowFn quantize_row[kNumGgmlTypes] = {};  // weight quantizers (reference only: MXFP4, NVFP4)
    QuantizeActFn quantize_act[kNumActTypes] = {};
    // Q1_0 weights with binary activations (ACT_B1, XNOR-popcount): opt-in, used instead of
    // matmul[GGML_Q1_0] when EDGEQ_Q1_0_ACT=binary is set at model load (weights.cpp).
    MatmulKernel q1_0_binary_act;
    // Float helpers for attention and norms.
    float (*dot_f32)(const float* a, const float* b, int n) = nullptr;      // sum a[i] b[i]
    void (*axpy_f32)(float a, const float* x, float* y, int n) = nullptr;   // y += a x
    // Attention over m cached rows `stride` floats apart (attention_rows.h): scores
    // s[j] = scale * dot(q, K_j) and out = sum_j w[j] V_j, equal to per-row dot_f32 / axpy_f32.
    void (*dot_rows_f32)(const float* q, const float* K, size_t stride, int m, int n, float scale,
                         float* s) = nullptr;
    void (*weighted_rows_f32)(const float* w, const float* V, size_t stride, int m, int n,
                              float* out) = nullptr;
};

// Registration: each ISA overlays the entries it implements onto a copy of the ref table.
void register_ref(KernelTable& t);
#ifdef EDGEQ_HAVE_AVX2
void register_avx2(KernelTable& t);
#endif
#ifdef EDGEQ_HAVE_AVX512
void register_avx512(KernelTable& t);
#endif
#ifdef EDGEQ_HAVE_NEON
void register_neon(KernelTable& t);
#endif
#ifdef EDGEQ_HAVE_DOTPROD
void register_dotprod(KernelTable& t);
#endif
#ifdef EDGEQ_HAVE_I8MM
void register_i8mm(KernelTable& t);
#endif

// ---- Dispatch ---------------------------------------------------------------------------------
// ISAs compiled into this build, in increasing order of preference.
std::vector<std::string> compiled_isas();
// Compiled ISAs this CPU can execute.
std::vector<std::string> runnable_isas();
// The table for one ISA; throws std::runtime_error if it is not compiled in or the CPU lacks it.
const KernelTable& kernels_for(const std::string& isa);
// The table in use: EDGEQ_ISA if set (error if unusable), else the best runnable ISA.
const KernelTable& kernels();
// CPU features detected (e.g. "avx2", "avx512f", "avx512vnni", "neon", "dotprod", "i8mm", "sve";
// sve is reported only: no kernel uses it).
std::vector<std::string> cpu_features();
std::string cpu_model_name();

}  // namespace edgeq
