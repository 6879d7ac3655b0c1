// OpenAI `stop` sequences over streamed text: text that could still be the start of a stop
// sequence is held back; when one completes, the text before it is released and the rest dropped.
#pragma once

#include <string>
#include <vector>

namespace dsvl2::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends a piece; returns the text now safe to emit. After a match, returns "" forever.
  std::string Push(const std::string& piece);
  // End of generation: the held-back text (none after a match).
  std::string Flush();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace dsvl2::server
