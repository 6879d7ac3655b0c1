// Single-sequence generation on top of the batched forward pass: chunked prefill, then a decode
// loop feeding back one token at a time through the KV cache.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "lm/deepseek_v2.h"
#include "lm/kv.h"
#include "runtime/sampler.h"

namespace dsvl2 {

struct GenerationParams {
  int max_new_tokens = 512;
  SamplingParams sampling;
  int64_t chunk_size = 1024;         // prefill chunk (tokens); <= 0: the whole prompt at once
  std::vector<int32_t> stop_ids;     // end-of-sentence etc.
  bool penalize_prompt_ids = true;   // repetition penalty also over the prompt ids (HF input_ids)
  bool keep_logits = false;          // tests: keep the logits of every step
};

struct GenerationResult {
  std::vector<int32_t> tokens;
  std::string finish_reason;         // "stop" | "length" | "cancelled"
  double prefill_ms = 0, decode_ms = 0;
  std::vector<std::vector<float>> step_logits;  // with keep_logits: logits before each choice
};

// Prefills `embeds` [T, hidden] into `kv` in chunks; `last_logits` gets the logits of the final row.
Status Prefill(const DeepseekV2& lm, SequenceKv* kv, const Tensor& embeds, int64_t chunk_size,
               std::vector<float>* last_logits);

// on_token returns false to cancel.
Status Generate(const DeepseekV2& lm, SequenceKv* kv, const Tensor& prompt_embeds,
                const std::vector<int32_t>& prompt_ids, const GenerationParams& params,
                const std::function<bool(int32_t)>& on_token, GenerationResult* result);

}  // namespace dsvl2
