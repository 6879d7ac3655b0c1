#include "server/openai_format.h"

#include <atomic>
#include <random>

namespace dsvl2::server {

using nlohmann::json;

json UsageJson(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json CompletionJson(const CompletionMeta& m, const std::string& text, const std::string& finish_reason,
                    const json& usage, const json& boxes) {
  return {{"id", m.id},
          {"object", "chat.completion"},
          {"created", m.created},
          {"model", m.model},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason}}})},
          {"usage", usage},
          {"boxes", boxes}};
}

json ChunkJson(const CompletionMeta& m, const json& delta, const std::string& finish_reason) {
  return {{"id", m.id},
          {"object", "chat.completion.chunk"},
          {"created", m.created},
          {"model", m.model},
          {"choices", json::array({{{"index", 0},
                                    {"delta", delta},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}}})}};
}

json UsageChunkJson(const CompletionMeta& m, const json& usage) {
  return {{"id", m.id}, {"object", "chat.completion.chunk"}, {"created", m.created},
          {"model", m.model}, {"choices", json::array()}, {"usage", usage}};
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string SseData(const json& j) { return "data: " + Dump(j) + "\n\n"; }

std::string NewCompletionId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "chatcmpl-%08llx%08llx", static_cast<unsigned long long>(salt & 0xffffffff),
                static_cast<unsigned long long>(++counter));
  return buf;
}

}  // namespace dsvl2::server
