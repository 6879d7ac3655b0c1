#include "server/api_error.h"

namespace dsvl2::server {

nlohmann::json ErrorJson(const ApiError& e) {
  using nlohmann::json;
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

ApiError ErrorForStatus(int status) {
  switch (status) {
    case 400: return {400, "bad request", "invalid_request_error", "bad_request", ""};
    case 401: return {401, "missing or invalid API key (send Authorization: Bearer KEY)",
                      "authentication_error", "invalid_api_key", ""};
    case 404: return {404, "no such route", "invalid_request_error", "not_found", ""};
    case 405: return {405, "method not allowed", "invalid_request_error", "method_not_allowed", ""};
    case 413: return {413, "request body too large", "invalid_request_error", "payload_too_large", ""};
    case 414: return {414, "request URI too long", "invalid_request_error", "uri_too_long", ""};
    case 503: return {503, "server overloaded: request queue is full, retry later", "server_error",
                      "overloaded", ""};
    default:
      if (status >= 500) return {status, "internal server error", "server_error", "", ""};
      return {status, "request failed", "invalid_request_error", "", ""};
  }
}

}  // namespace dsvl2::server
