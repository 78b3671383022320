// The ternary_layout load option (weights.h): converting a model's ternary matrices to the
// EDGEQ_TL2 lookup-table layout (kernels/ternary_lut.h) after they are loaded.
#pragma once
#include "model/weights.h"

namespace edgeq {

// Converts every TQ2_0 / TQ1_0 projection of `w` (the layers' seven and an untied output; a tied
// output stays as the token embedding, whose rows are read natively) to EDGEQ_TL2 in storage
// from w.allocate, per `layout` (see TernaryLayout), and records the outcome in
// w.ternary_layout / w.ternary_note. TL: throws std::invalid_argument naming the first tensor
// that cannot convert losslessly and why.
void apply_ternary_layout(ModelWeights& w, TernaryLayout layout, const KernelTable& kt);

}  // namespace edgeq
