// dsvl2 tokenize (--model DIR | --tokenizer FILE) (--text TEXT | --input FILE) [--decode]
//
// Encode (no special tokens added):
//   --text TEXT    prints one JSON id array
//   --input FILE   FILE holds a JSON array of strings; prints a JSON array of id arrays
// Decode (--decode; special tokens kept, as the official scripts decode):
//   --text TEXT    TEXT is a JSON id array; prints one JSON string
//   --input FILE   FILE holds a JSON array of id arrays; prints a JSON array of strings
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace dsvl2::tools {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: dsvl2 tokenize (--model DIR | --tokenizer FILE) (--text TEXT | --input FILE) "
    "[--decode]\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "dsvl2 tokenize: %s\n", message.c_str());
  return 1;
}

// Output is always valid UTF-8 (Decode repairs), but be robust anyway.
void Print(const json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

StatusOr<std::vector<int32_t>> ParseIds(const json& j) {
  if (!j.is_array()) return Status::Error("expected an array of token ids, got " + j.dump());
  std::vector<int32_t> ids;
  for (const json& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
      return Status::Error("not a token id: " + v.dump());
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

}  // namespace

int RunTokenize(int argc, char** argv) {
  std::string model, tokenizer_file, text, input;
  bool have_text = false, decode = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--model") && has_value) model = argv[++i];
    else if (!std::strcmp(argv[i], "--tokenizer") && has_value) tokenizer_file = argv[++i];
    else if (!std::strcmp(argv[i], "--text") && has_value) text = argv[++i], have_text = true;
    else if (!std::strcmp(argv[i], "--input") && has_value) input = argv[++i];
    else if (!std::strcmp(argv[i], "--decode")) decode = true;
    else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "dsvl2 tokenize: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (model.empty() == tokenizer_file.empty() || have_text == !input.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  auto tok = model.empty() ? Tokenizer::FromFile(tokenizer_file) : Tokenizer::FromModelDir(model);
  if (!tok.ok()) return Fail(tok.status().message());
  const Tokenizer& t = **tok;

  if (have_text) {
    if (!decode) {
      Print(t.Encode(text));
      return 0;
    }
    const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto ids = ParseIds(j);
    if (!ids.ok()) return Fail("--text: " + ids.status().message());
    Print(t.Decode(*ids));
    return 0;
  }

  auto content = ReadFileToString(input);
  if (!content.ok()) return Fail(content.status().message());
  const json j = json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return Fail(input + ": expected a JSON array");
  json out = json::array();
  for (size_t i = 0; i < j.size(); ++i) {
    if (decode) {
      auto ids = ParseIds(j[i]);
      if (!ids.ok()) return Fail(input + StrFormat(" [%zu]: ", i) + ids.status().message());
      out.push_back(t.Decode(*ids));
    } else {
      if (!j[i].is_string()) return Fail(input + StrFormat(" [%zu]: expected a string", i));
      out.push_back(t.Encode(j[i].get<std::string>()));
    }
  }
  Print(out);
  return 0;
}

}  // namespace dsvl2::tools
