// OpenAI-style API errors: {"error": {"message", "type", "param", "code"}} with an HTTP status.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dsvl2::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string code;   // e.g. "invalid_json", "context_length_exceeded"; "" -> null
  std::string param;  // the offending field, e.g. "messages[0].content[1].image_url"; "" -> null

  static ApiError BadRequest(std::string message, std::string param = "", std::string code = "") {
    return {400, std::move(message), "invalid_request_error", std::move(code), std::move(param)};
  }
};

nlohmann::json ErrorJson(const ApiError& e);
// A type/code for a bare HTTP status (404, 413, 401, 503, ...), for errors raised outside handlers.
ApiError ErrorForStatus(int status);

}  // namespace dsvl2::server
