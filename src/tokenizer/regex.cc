#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace dsvl2 {
namespace {

// Unicode White_Space, as a character-class body.
constexpr const char* kWhiteSpaceBody =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
constexpr const char* kHexBody = "0-9a-fA-F";

pcre2_code* Code(void* p) { return static_cast<pcre2_code*>(p); }

// One match-data block per thread, large enough for the whole-match offsets of any pattern.
pcre2_match_data* ThreadMatchData() {
  struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  };
  thread_local Holder holder;
  return holder.md;
}

}  // namespace

std::string TranslateOnigPattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 16);
  int class_depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      const char* body = (e == 's' || e == 'S') ? kWhiteSpaceBody
                         : (e == 'h' || e == 'H') ? kHexBody
                                                  : nullptr;
      const bool negated = e == 'S' || e == 'H';
      if (body == nullptr || (class_depth > 0 && negated)) {
        out += '\\';
        out += e;
      } else if (class_depth > 0) {
        out += body;
      } else {
        out += negated ? "[^" : "[";
        out += body;
        out += ']';
      }
      continue;
    }
    out += c;
    if (c == '[') {
      if (class_depth > 0 && i + 1 < p.size() && p[i + 1] == ':') {
        // POSIX bracket [:name:] inside a class: copy through the closing ":]".
        const size_t close = p.find(":]", i + 2);
        if (close != std::string_view::npos) {
          out.append(p.substr(i + 1, close + 2 - (i + 1)));
          i = close + 1;
          continue;
        }
      }
      ++class_depth;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
    } else if (c == ']' && class_depth > 0) {
      --class_depth;
    }
  }
  return out;
}

StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  const std::string translated = TranslateOnigPattern(pattern);
  pcre2_compile_context* ctx = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(ctx, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, ctx);
  pcre2_compile_context_free(ctx);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof(msg));
    return Status::Error(StrFormat("cannot compile regex \"%s\": %s at offset %zu",
                                   std::string(pattern).c_str(),
                                   reinterpret_cast<const char*>(msg), offset));
  }
  std::unique_ptr<Regex> re(new Regex());
  re->pattern_ = std::string(pattern);
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

Regex::~Regex() { pcre2_code_free(Code(code_)); }

bool Regex::FindAll(std::string_view subject,
                    std::vector<std::pair<size_t, size_t>>* matches) const {
  pcre2_match_data* md = ThreadMatchData();
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t len = subject.size();
  size_t pos = 0;
  size_t last_end = static_cast<size_t>(-1);
  while (pos <= len) {
    const int rc = jit_ ? pcre2_jit_match(Code(code_), s, len, pos, 0, md, nullptr)
                        : pcre2_match(Code(code_), s, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return true;
    if (rc < 0) return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0], end = ov[1];
    if (start == end && end == last_end) {
      // Empty match glued to the previous one: step over one character and search again.
      if (pos >= len) return true;
      ++pos;
      while (pos < len && (static_cast<uint8_t>(subject[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    matches->emplace_back(start, end);
    pos = end;
    last_end = end;
  }
  return true;
}

}  // namespace dsvl2
