// tokenizer.json "normalizer": null, or Unicode normalization forms (NFC, NFKC, NFD, NFKD),
// possibly nested in Sequence (an empty Sequence is the identity). Other normalizer types are
// rejected at load time rather than silently ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace dsvl2 {

class Normalizer {
 public:
  enum class Form { kNfc, kNfkc, kNfd, kNfkd };

  // `json` is the value of the "normalizer" key (may be null).
  static StatusOr<Normalizer> FromJson(const nlohmann::json& json);

  bool is_identity() const { return forms_.empty(); }
  // Applies the forms in order to valid UTF-8 text.
  std::string Apply(std::string_view text) const;

 private:
  Status Add(const nlohmann::json& json);
  std::vector<Form> forms_;
};

}  // namespace dsvl2
