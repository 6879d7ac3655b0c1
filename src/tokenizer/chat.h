// DeepSeek-VL2 conversation -> model input ids, exactly as the official processor builds them
// (DeepseekVLV2Processor.format_messages_v2 + tokenize_with_images, "deepseek" template; see
// docs §7.2). The ids are built turn by turn, not by tokenizing the rendered prompt string:
//
//   [BOS]
//   system    (first message only): tokenize(content.strip())          -- no separator
//   user      : tokenize_with_images("<|User|>: " + content.strip() + "\n\n<|Assistant|>:")
//   assistant : tokenize(content.strip()) + [EOS]
//   the conversation ends with an empty assistant turn whose EOS is dropped.
//
// tokenize_with_images splits the text on the literal "<image>"; each text piece is encoded
// separately (no BPE merge crosses an image) and each tag becomes N_img copies of the <image>
// token id, marked in images_seq_mask.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace dsvl2 {

// Tokens the VL2 processor adds to the base tokenizer, in its order (ids follow the highest
// existing id unless the tokenizer already has them). Pass to Tokenizer::AddSpecialTokens.
inline const std::vector<std::string>& Vl2SpecialTokens() {
  static const std::vector<std::string> kTokens = {
      "<image>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>", "<|User|>",
      "<|Assistant|>"};
  return kTokens;
}

inline constexpr const char* kImageTag = "<image>";

// Image tokens per side of one view: ceil((image_size // patch_size) / downsample_ratio)
// (14 for DeepSeek-VL2: 384 // 14 = 27 patches, downsampled by 2).
int ImageTokensPerSide(int image_size, int patch_size, int downsample_ratio);

// Number of <image> tokens for one image whose local views form a width_tiles x height_tiles
// grid (images_spatial_crop = [width_tiles, height_tiles]; [1, 1] when the processor does not
// crop, i.e. with more than two images):
//   global view  h * (w + 1)                          (a newline token after every row)
//   separator    1
//   local views  (height_tiles * h) * (width_tiles * w + 1)
// with h = w = tokens_per_side. For 14: 211 + 14*th*(14*tw + 1).
int ImageTokenCount(int width_tiles, int height_tiles, int tokens_per_side = 14);

struct ChatMessage {
  // "user" / "<|User|>", "assistant" / "<|Assistant|>", or "system" (first message only).
  std::string role;
  std::string content;
  // Number of images attached to this message, or -1 to take the number of <image> tags in
  // content. When given it must equal the number of tags.
  int num_images = -1;
};

// A run of image placeholder tokens: input_ids[start, start + length) belong to image `image`.
struct ImageSpan {
  int image = 0;
  size_t start = 0;
  size_t length = 0;
};

struct ChatTokens {
  std::vector<int32_t> input_ids;
  std::vector<uint8_t> images_seq_mask;  // 1 exactly at image placeholder positions
  std::vector<ImageSpan> image_spans;    // in order; one per image
};

// Builds the prompt ids of a conversation. `image_token_counts` has one entry per image, in the
// order the <image> tags appear (each from ImageTokenCount). If the conversation ends with a
// user message, the empty assistant turn is appended; otherwise it must end with an empty
// assistant message. Errors: unknown role, system not first, <image> outside user messages,
// tag/image count mismatch, missing BOS/EOS/<image> tokens in the tokenizer.
StatusOr<ChatTokens> BuildChatTokens(const Tokenizer& tokenizer,
                                     std::span<const ChatMessage> messages,
                                     std::span<const int> image_token_counts);

}  // namespace dsvl2
