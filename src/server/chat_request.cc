#include "server/chat_request.h"

#include <random>

#include <nlohmann/json.hpp>

namespace dsvl2::server {
namespace {

using nlohmann::json;

struct Parser {
  const ChatLimits& limits;
  ChatRequest* out;
  ApiError* error;
  int images = 0;

  bool Fail(std::string message, std::string param, std::string code = "") {
    *error = ApiError::BadRequest(std::move(message), std::move(param), std::move(code));
    return false;
  }
  bool WrongType(const std::string& param, const char* expected) {
    return Fail("'" + param + "' must be " + expected, param, "invalid_type");
  }

  bool Number(const json& j, const char* key, double lo, double hi, double* v) {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_number()) return WrongType(key, "a number");
    const double x = j[key].get<double>();
    if (!(x >= lo && x <= hi))
      return Fail(StrFormat("'%s' must be between %g and %g (got %g)", key, lo, hi, x), key, "invalid_value");
    *v = x;
    return true;
  }
  bool Integer(const json& j, const char* key, int64_t lo, int64_t hi, std::optional<int64_t>* v) {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_number_integer()) return WrongType(key, "an integer");
    const int64_t x = j[key].is_number_unsigned() && j[key].get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX : j[key].get<int64_t>();
    if (x < lo || x > hi)
      return Fail(StrFormat("'%s' must be between %lld and %lld (got %lld)", key, static_cast<long long>(lo),
                            static_cast<long long>(hi), static_cast<long long>(x)), key, "invalid_value");
    *v = x;
    return true;
  }

  bool Part(const json& part, const std::string& where, Turn* turn) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return Fail("'" + where + "' must be an object with a string 'type'", where, "invalid_type");
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string()) return WrongType(where + ".text", "a string");
      const std::string text = part["text"].get<std::string>();
      if (text.find("<image>") != std::string::npos)
        return Fail("'" + where + ".text' contains \"<image>\": send images as image_url parts", where + ".text");
      turn->content += text;
      return true;
    }
    if (type == "image_url") {
      const std::string p = where + ".image_url";
      if (!part.contains("image_url")) return Fail("'" + p + "' is missing", p);
      const json& iu = part["image_url"];
      std::string url;
      if (iu.is_string()) {
        url = iu.get<std::string>();
      } else if (iu.is_object() && iu.contains("url") && iu["url"].is_string()) {
        url = iu["url"].get<std::string>();
      } else {
        return WrongType(p, "an object with a string 'url'");
      }
      if (++images > limits.max_images)
        return Fail(StrFormat("too many images: at most %d per request", limits.max_images), p, "too_many_images");
      auto img = LoadImageUrl(url, limits.image);
      if (!img.ok()) return Fail("'" + p + "': " + img.status().message(), p, "invalid_image");
      turn->content += "<image>";
      turn->images.push_back(std::move(img).value());
      return true;
    }
    return Fail("'" + where + ".type' must be \"text\" or \"image_url\" (got \"" + type + "\")", where + ".type");
  }

  bool Message(const json& m, size_t i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return WrongType(where, "an object");
    if (!m.contains("role") || !m["role"].is_string()) return WrongType(where + ".role", "a string");
    Turn turn;
    turn.role = m["role"].get<std::string>();
    if (turn.role != "system" && turn.role != "user" && turn.role != "assistant")
      return Fail("'" + where + ".role' must be system, user or assistant (got \"" + turn.role + "\")",
                  where + ".role", "invalid_role");
    const json* content = m.contains("content") ? &m["content"] : nullptr;
    if (content == nullptr || content->is_null()) {
      if (turn.role != "assistant") return Fail("'" + where + ".content' is missing", where + ".content");
    } else if (content->is_string()) {
      turn.content = content->get<std::string>();
      if (turn.content.find("<image>") != std::string::npos)
        return Fail("'" + where + ".content' contains \"<image>\": send images as image_url parts", where + ".content");
    } else if (content->is_array()) {
      for (size_t k = 0; k < content->size(); ++k)
        if (!Part((*content)[k], where + ".content[" + std::to_string(k) + "]", &turn)) return false;
    } else {
      return WrongType(where + ".content", "a string or an array of content parts");
    }
    out->turns.push_back(std::move(turn));
    return true;
  }

  bool Stop(const json& j) {
    if (!j.contains("stop") || j["stop"].is_null()) return true;
    const json& s = j["stop"];
    if (s.is_string()) {
      out->stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 4) return Fail("'stop' takes at most 4 sequences", "stop");
      for (const json& x : s) {
        if (!x.is_string()) return WrongType("stop", "a string or an array of strings");
        out->stop.push_back(x.get<std::string>());
      }
    } else {
      return WrongType("stop", "a string or an array of strings");
    }
    for (const std::string& x : out->stop)
      if (x.empty()) return Fail("'stop' sequences must not be empty", "stop");
    return true;
  }

  bool Parse(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return Fail("request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) return Fail("request body must be a JSON object", "", "invalid_type");
    if (j.contains("model") && !j["model"].is_null()) {
      if (!j["model"].is_string()) return WrongType("model", "a string");
      out->model = j["model"].get<std::string>();
    }
    if (!j.contains("messages")) return Fail("'messages' is required", "messages");
    const json& msgs = j["messages"];
    if (!msgs.is_array()) return WrongType("messages", "an array");
    if (msgs.empty()) return Fail("'messages' must not be empty", "messages");
    for (size_t i = 0; i < msgs.size(); ++i)
      if (!Message(msgs[i], i)) return false;

    for (const char* key : {"stream"}) {
      if (j.contains(key) && !j[key].is_null() && !j[key].is_boolean()) return WrongType(key, "a boolean");
    }
    out->stream = j.value("stream", false) == true;
    if (j.contains("stream_options") && !j["stream_options"].is_null()) {
      const json& so = j["stream_options"];
      if (!so.is_object()) return WrongType("stream_options", "an object");
      if (so.contains("include_usage") && !so["include_usage"].is_boolean())
        return WrongType("stream_options.include_usage", "a boolean");
      out->include_usage = so.value("include_usage", false);
    }
    SamplingParams& sp = out->gen.sampling;
    double temperature = sp.temperature, top_p = sp.top_p, rp = sp.repetition_penalty;
    if (!Number(j, "temperature", 0.0, 2.0, &temperature)) return false;
    if (!Number(j, "top_p", 0.0, 1.0, &top_p)) return false;
    if (!Number(j, "repetition_penalty", 0.01, 100.0, &rp)) return false;
    if (top_p <= 0.0) return Fail("'top_p' must be in (0, 1]", "top_p", "invalid_value");
    std::optional<int64_t> top_k, seed, max_tokens, max_completion, n;
    if (!Integer(j, "top_k", -1, 1 << 30, &top_k)) return false;
    if (!Integer(j, "seed", INT64_MIN, INT64_MAX, &seed)) return false;
    if (!Integer(j, "max_tokens", 1, INT64_MAX, &max_tokens)) return false;
    if (!Integer(j, "max_completion_tokens", 1, INT64_MAX, &max_completion)) return false;
    if (!Integer(j, "n", 1, 1, &n)) return false;
    for (const char* key : {"frequency_penalty", "presence_penalty"}) {
      double v = 0;
      if (!Number(j, key, -2.0, 2.0, &v)) return false;
      if (v != 0.0) return Fail(std::string("'") + key + "' is not supported (use repetition_penalty)", key);
    }
    if (!Stop(j)) return false;
    sp.temperature = static_cast<float>(temperature);
    sp.top_p = static_cast<float>(top_p);
    sp.repetition_penalty = static_cast<float>(rp);
    if (top_k) sp.top_k = *top_k < 0 ? 0 : static_cast<int>(*top_k);
    if (seed) {
      sp.seed = static_cast<uint64_t>(*seed);
    } else if (sp.temperature > 0) {
      sp.seed = std::random_device{}();
    }
    out->max_tokens = max_completion ? max_completion : max_tokens;
    return true;
  }
};

}  // namespace

bool ParseChatRequest(const std::string& body, const ChatLimits& limits, ChatRequest* out, ApiError* error) {
  *out = ChatRequest();
  Parser p{limits, out, error};
  return p.Parse(body);
}

}  // namespace dsvl2::server
