// The interleave load option (weights.h): repacking a model's Q4_0 / Q4_1 / Q5_0 / Q8_0 / Q4_K matrices
// into their x16 layouts (kernels/interleave.h) after they are loaded.
#pragma once
#include "model/weights.h"

namespace edgeq {

// Repacks every projection and the output matrix whose type has an x16 layout with a SIMD kernel
// in `kt` (not the reference's: on ISAs without one the matrices stay as in the file) into
// storage from w.allocate. A tied output gets its own repacked copy; token_embd stays in the
// file's layout for the row lookup. Results equal the file layout's up to float summation order.
void apply_interleaved_layout(ModelWeights& w, const KernelTable& kt);

}  // namespace edgeq
