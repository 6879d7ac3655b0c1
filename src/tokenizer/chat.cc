#include "tokenizer/chat.h"

#include <string_view>

#include "tokenizer/utf8.h"

namespace dsvl2 {
namespace {

enum class Role { kSystem, kUser, kAssistant };

// The "deepseek" conversation template's fixed strings.
constexpr std::string_view kUserRole = "<|User|>";
constexpr std::string_view kAssistantRole = "<|Assistant|>";
constexpr std::string_view kUserSep = "\n\n";

StatusOr<Role> ParseRole(const std::string& role) {
  if (role == "user" || role == kUserRole) return Role::kUser;
  if (role == "assistant" || role == kAssistantRole) return Role::kAssistant;
  if (role == "system" || role == "deepseekapi-sys") return Role::kSystem;
  return Status::Error("unknown chat role \"" + role + "\" (expected user, assistant or system)");
}

size_t CountTags(std::string_view text) {
  size_t n = 0;
  for (size_t pos = text.find(kImageTag); pos != std::string_view::npos;
       pos = text.find(kImageTag, pos + std::string_view(kImageTag).size())) {
    ++n;
  }
  return n;
}

class Builder {
 public:
  Builder(const Tokenizer& tok, std::span<const int> counts, int32_t image_id)
      : tok_(tok), counts_(counts), image_id_(image_id) {}

  void Append(int32_t id) {
    out_.input_ids.push_back(id);
    out_.images_seq_mask.push_back(0);
  }
  void AppendText(std::string_view text) {
    for (int32_t id : tok_.Encode(text)) Append(id);
  }
  // tokenize_with_images: text pieces between <image> tags are encoded separately.
  Status AppendWithImages(std::string_view text) {
    const std::string_view tag = kImageTag;
    size_t begin = 0;
    for (size_t pos = text.find(tag); pos != std::string_view::npos; pos = text.find(tag, begin)) {
      AppendText(text.substr(begin, pos - begin));
      if (next_image_ >= counts_.size()) {
        return Status::Error(StrFormat("the conversation has more <image> tags than images (%zu given)",
                                       counts_.size()));
      }
      const int n = counts_[next_image_];
      if (n <= 0) return Status::Error(StrFormat("image %zu has %d image tokens", next_image_, n));
      out_.image_spans.push_back({static_cast<int>(next_image_), out_.input_ids.size(),
                                  static_cast<size_t>(n)});
      out_.input_ids.insert(out_.input_ids.end(), static_cast<size_t>(n), image_id_);
      out_.images_seq_mask.insert(out_.images_seq_mask.end(), static_cast<size_t>(n), 1);
      ++next_image_;
      begin = pos + tag.size();
    }
    AppendText(text.substr(begin));
    return Status::Ok();
  }

  size_t images_used() const { return next_image_; }
  ChatTokens Take() { return std::move(out_); }

 private:
  const Tokenizer& tok_;
  std::span<const int> counts_;
  int32_t image_id_;
  size_t next_image_ = 0;
  ChatTokens out_;
};

}  // namespace

int ImageTokensPerSide(int image_size, int patch_size, int downsample_ratio) {
  if (patch_size <= 0 || downsample_ratio <= 0) return 0;
  const int patches = image_size / patch_size;
  return (patches + downsample_ratio - 1) / downsample_ratio;
}

int ImageTokenCount(int width_tiles, int height_tiles, int tokens_per_side) {
  const int h = tokens_per_side, w = tokens_per_side;
  return h * (w + 1) + 1 + (height_tiles * h) * (width_tiles * w + 1);
}

StatusOr<ChatTokens> BuildChatTokens(const Tokenizer& tokenizer,
                                     std::span<const ChatMessage> messages,
                                     std::span<const int> image_token_counts) {
  const auto bos = tokenizer.bos_id();
  const auto eos = tokenizer.eos_id();
  const auto image = tokenizer.TokenId(kImageTag);
  if (!bos || !eos) {
    return Status::Error("the tokenizer has no BOS/EOS token (\"" +
                         tokenizer.special_token_names().bos + "\", \"" +
                         tokenizer.special_token_names().eos + "\")");
  }
  if (!image) {
    return Status::Error("the tokenizer has no <image> token (add Vl2SpecialTokens() first)");
  }
  if (messages.empty()) return Status::Error("empty conversation");

  std::vector<Role> roles;
  for (const ChatMessage& m : messages) {
    ASSIGN_OR_RETURN(Role r, ParseRole(m.role));
    roles.push_back(r);
  }

  Builder b(tokenizer, image_token_counts, *image);
  b.Append(*bos);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const std::string_view content = utf8::PythonStrip(m.content);
    const size_t tags = CountTags(content);
    if (m.num_images >= 0 && static_cast<size_t>(m.num_images) != tags) {
      return Status::Error(StrFormat("message %zu has %d images but %zu <image> tags", i,
                                     m.num_images, tags));
    }
    switch (roles[i]) {
      case Role::kSystem:
        if (i != 0) return Status::Error("a system message is only allowed as the first message");
        if (tags) return Status::Error("the system message must not contain <image>");
        b.AppendText(content);
        break;
      case Role::kUser: {
        std::string text(kUserRole);
        text += ": ";
        text += content;
        text += kUserSep;
        text += kAssistantRole;
        text += ":";
        RETURN_IF_ERROR(b.AppendWithImages(text));
        break;
      }
      case Role::kAssistant: {
        if (tags) return Status::Error(StrFormat("assistant message %zu contains <image>", i));
        const bool last = i + 1 == messages.size();
        if (last && !content.empty()) {
          return Status::Error("the last message must be a user message or an empty assistant turn");
        }
        b.AppendText(content);
        if (!last) b.Append(*eos);  // the final (empty) turn's EOS is dropped
        break;
      }
    }
  }
  // A conversation ending with a user (or system) message gets the empty assistant turn, whose
  // only token, EOS, is dropped: nothing to add.
  if (b.images_used() != image_token_counts.size()) {
    return Status::Error(StrFormat("%zu images given but the conversation has %zu <image> tags",
                                   image_token_counts.size(), b.images_used()));
  }
  return b.Take();
}

}  // namespace dsvl2
