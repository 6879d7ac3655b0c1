#include "runtime/generator.h"

#include <algorithm>
#include <chrono>

namespace dsvl2 {
namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Status Prefill(const DeepseekV2& lm, SequenceKv* kv, const Tensor& embeds, int64_t chunk_size,
               std::vector<float>* last_logits) {
  const int64_t t = embeds.dim(0), d = embeds.dim(1);
  if (t == 0) return Status::Error("empty prompt");
  if (chunk_size <= 0) chunk_size = t;
  Tensor chunk, logits;
  for (int64_t start = 0; start < t; start += chunk_size) {
    const int64_t n = std::min(chunk_size, t - start);
    chunk.Resize({n, d});
    std::copy(embeds.row(start), embeds.row(start) + n * d, chunk.data());
    const bool last = start + n == t;
    std::vector<int64_t> rows;
    if (last) rows.push_back(n - 1);
    RETURN_IF_ERROR(lm.Forward(chunk, {SeqSlice{kv, 0, n}}, rows, &logits));
  }
  last_logits->assign(logits.data(), logits.data() + logits.numel());
  return Status::Ok();
}

Status Generate(const DeepseekV2& lm, SequenceKv* kv, const Tensor& prompt_embeds,
                const std::vector<int32_t>& prompt_ids, const GenerationParams& params,
                const std::function<bool(int32_t)>& on_token, GenerationResult* result) {
  *result = GenerationResult();
  const int64_t vocab = lm.config().vocab_size, d = lm.config().hidden_size;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  RETURN_IF_ERROR(Prefill(lm, kv, prompt_embeds, params.chunk_size, &logits));
  result->prefill_ms = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  Sampler sampler(params.sampling);
  std::vector<int32_t> history;
  if (params.penalize_prompt_ids) history = prompt_ids;
  Tensor x({1, d}), out;
  result->finish_reason = "length";
  for (int step = 0; step < params.max_new_tokens; ++step) {
    if (params.keep_logits) result->step_logits.push_back(logits);
    const int32_t tok = sampler.Next(logits.data(), vocab, history);
    result->tokens.push_back(tok);
    history.push_back(tok);
    const bool stop = std::find(params.stop_ids.begin(), params.stop_ids.end(), tok) != params.stop_ids.end();
    if (on_token && !on_token(tok)) {
      result->finish_reason = "cancelled";
      break;
    }
    if (stop) {
      result->finish_reason = "stop";
      break;
    }
    if (step + 1 == params.max_new_tokens) break;
    RETURN_IF_ERROR(lm.Embed(&tok, 1, x.data()));
    RETURN_IF_ERROR(lm.Forward(x, {SeqSlice{kv, 0, 1}}, {0}, &out));
    logits.assign(out.data(), out.data() + vocab);
  }
  result->decode_ms = MsSince(t0);
  return Status::Ok();
}

}  // namespace dsvl2
