// Parsing and validation of an OpenAI chat-completions request body into engine Turns and
// generation settings. Every problem becomes an ApiError naming the field (param) and the reason.
//
// Content: a string, or an array of parts taken in order: {"type":"text","text":...} appends the
// text; {"type":"image_url","image_url":{"url":...}} appends "<image>" at that point and the decoded
// image. Text must not contain "<image>" itself (use image parts). Roles: system, user, assistant.
// Defaults follow `dsvl2 run`: temperature 0 (greedy), top_p 1, top_k 50, repetition_penalty 1;
// a seed is drawn at random when sampling without one. max_tokens / max_completion_tokens default
// to min(512, context - prompt) (resolved later, once the prompt length is known).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/generator.h"
#include "server/api_error.h"
#include "server/image_source.h"

namespace dsvl2::server {

struct ChatLimits {
  int max_images = 8;        // per request
  ImageLimits image;
};

struct ChatRequest {
  std::string model;
  std::vector<Turn> turns;
  GenerationParams gen;              // max_new_tokens meaningful only if max_tokens is set
  std::optional<int64_t> max_tokens;
  std::vector<std::string> stop;     // up to 4 stop strings
  bool stream = false;
  bool include_usage = false;
};

// Returns false and fills *error on bad input.
bool ParseChatRequest(const std::string& body, const ChatLimits& limits, ChatRequest* out, ApiError* error);

}  // namespace dsvl2::server
