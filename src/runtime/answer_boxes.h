// Grounding boxes of a generated answer, as `dsvl2 run --format json` and the server report them:
// boxes refer to the last image of the conversation (as the official demo draws them).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "vision/grounding.h"

namespace dsvl2 {

// `images`: the conversation's images in order (PreparedPrompt::source_images).
GroundingParseResult ParseAnswerBoxes(const std::vector<const Image*>& images, const std::string& text);

// [{"label", "image", "x1", "y1", "x2", "y2", "raw": [4 ints]}, ...]
nlohmann::json BoxesToJson(const std::vector<GroundingBox>& boxes);

}  // namespace dsvl2
