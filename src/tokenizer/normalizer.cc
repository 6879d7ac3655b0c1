#include "tokenizer/normalizer.h"

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

namespace dsvl2 {

StatusOr<Normalizer> Normalizer::FromJson(const nlohmann::json& json) {
  Normalizer n;
  RETURN_IF_ERROR(n.Add(json));
  return n;
}

Status Normalizer::Add(const nlohmann::json& json) {
  if (json.is_null()) return Status::Ok();
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string()) {
    return Status::Error("normalizer: expected an object with a string \"type\"");
  }
  const std::string type = json["type"].get<std::string>();
  if (type == "Sequence") {
    const auto it = json.find("normalizers");
    if (it == json.end() || !it->is_array()) {
      return Status::Error("normalizer Sequence: missing \"normalizers\" array");
    }
    for (const auto& child : *it) RETURN_IF_ERROR(Add(child));
    return Status::Ok();
  }
  if (type == "NFC") forms_.push_back(Form::kNfc);
  else if (type == "NFKC") forms_.push_back(Form::kNfkc);
  else if (type == "NFD") forms_.push_back(Form::kNfd);
  else if (type == "NFKD") forms_.push_back(Form::kNfkd);
  else return Status::Error("unsupported normalizer type \"" + type + "\"");
  return Status::Ok();
}

std::string Normalizer::Apply(std::string_view text) const {
  std::string s(text);
  for (Form f : forms_) {
    utf8proc_uint8_t* out = nullptr;
    int options = UTF8PROC_STABLE;
    switch (f) {
      case Form::kNfc: options |= UTF8PROC_COMPOSE; break;
      case Form::kNfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
      case Form::kNfd: options |= UTF8PROC_DECOMPOSE; break;
      case Form::kNfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                     static_cast<utf8proc_ssize_t>(s.size()), &out,
                     static_cast<utf8proc_option_t>(options));
    // The input is valid UTF-8, so mapping only fails on allocation failure; keep the text.
    if (n >= 0) s.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
  }
  return s;
}

}  // namespace dsvl2
