// The whole forward pass of a llama-style model on the GPU (backends/cuda/cuda_model.cu), with
// the same model files and the same eval contract as edgeq::Model (model/forward.h): weights
// uploaded once (backends/gpu_plan.h), K / V cache on the device (float), float32 logits back.
// Without CUDA (stub in no_cuda.cpp) or without a usable device the constructor throws
// std::runtime_error("CUDA not available: <reason>").
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "model/config.h"
#include "model/weights.h"

namespace edgeq {

class CudaModel {
public:
    // Validates cfg and the tensors as edgeq::Model does (std::invalid_argument naming the
    // tensor), then uploads them; the tensor bytes are not needed after the constructor.
    // std::runtime_error if the device lacks memory for the plan (the message gives the sizes).
    CudaModel(ModelConfig cfg, const TensorMap& tensors, int n_ctx);
    ~CudaModel();
    CudaModel(const CudaModel&) = delete;
    CudaModel& operator=(const CudaModel&) = delete;

    // As edgeq::Model::eval: tokens[0..n) at positions n_past().., logits (n or 1, n_vocab) on
    // the host. Throws before touching the cache on a bad token id or a full context.
    void eval(const int32_t* tokens, int n, bool all_logits, float* logits);

    int n_past() const;
    int n_ctx() const;
    void truncate(int n);  // std::out_of_range unless 0 <= n <= n_past()
    void reset();
    const ModelConfig& config() const;
    bool tied_output() const;
    // One line: the device and the plan's memory (gpu_plan.h ModelPlan::summary).
    std::string summary() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace edgeq
