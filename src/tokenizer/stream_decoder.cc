#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8.h"

namespace dsvl2 {

std::string StreamDecoder::Push(int32_t id) {
  if (tokenizer_.AppendTokenBytes(id, skip_special_, first_, &pending_)) first_ = false;
  const size_t complete = utf8::CompletePrefixLength(pending_);
  if (complete == 0) return std::string();
  // Ill-formed bytes before the unfinished tail can never become valid: repair them now, as
  // the one-shot decoder would (maximal-subpart replacement is prefix-stable).
  std::string out = utf8::ToValidLossy(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = utf8::ToValidLossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace dsvl2
