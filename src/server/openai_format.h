// OpenAI chat-completion response objects and their server-sent-event framing.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace dsvl2::server {

struct CompletionMeta {
  std::string id;       // "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

nlohmann::json UsageJson(int64_t prompt_tokens, int64_t completion_tokens);

// "chat.completion" with one choice; `boxes` is added as an extra top-level field.
nlohmann::json CompletionJson(const CompletionMeta& m, const std::string& text, const std::string& finish_reason,
                              const nlohmann::json& usage, const nlohmann::json& boxes);

// "chat.completion.chunk": one choice with `delta`; finish_reason null unless given.
nlohmann::json ChunkJson(const CompletionMeta& m, const nlohmann::json& delta, const std::string& finish_reason = "");
// The final usage-only chunk (stream_options.include_usage): "choices": [].
nlohmann::json UsageChunkJson(const CompletionMeta& m, const nlohmann::json& usage);

// JSON text; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD instead of throwing.
std::string Dump(const nlohmann::json& j);
// "data: <json>\n\n"
std::string SseData(const nlohmann::json& j);
inline const char* kSseDone = "data: [DONE]\n\n";

std::string NewCompletionId();

}  // namespace dsvl2::server
