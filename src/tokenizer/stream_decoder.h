// Incremental detokenization for streaming generation. Byte-level BPE tokens can end in the
// middle of a multi-byte character (an emoji is often two or three tokens), so bytes of an
// unfinished UTF-8 sequence are held back until the sequence completes. The concatenation of
// every Push() and the final Flush() equals Tokenizer::Decode of all the ids.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace dsvl2 {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Feeds one token; returns the text that became complete (possibly empty).
  std::string Push(int32_t id);
  // Ends the stream: returns held-back bytes, an unfinished sequence becoming U+FFFD.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;  // at most 3 bytes of an unfinished UTF-8 sequence
};

}  // namespace dsvl2
