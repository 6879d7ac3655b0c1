#include "runtime/answer_boxes.h"

namespace dsvl2 {

GroundingParseResult ParseAnswerBoxes(const std::vector<const Image*>& images, const std::string& text) {
  const Image* last = images.empty() ? nullptr : images.back();
  GroundingParseOptions opt;
  opt.image_index = last ? static_cast<int>(images.size()) - 1 : -1;
  opt.image_width = last ? last->width : 0;
  opt.image_height = last ? last->height : 0;
  return ParseGrounding(text, opt);
}

nlohmann::json BoxesToJson(const std::vector<GroundingBox>& boxes) {
  using nlohmann::json;
  json out = json::array();
  for (const GroundingBox& b : boxes)
    out.push_back({{"label", b.label}, {"image", b.image_index >= 0 ? json(b.image_index) : json(nullptr)},
                   {"x1", b.x1}, {"y1", b.y1}, {"x2", b.x2}, {"y2", b.y2},
                   {"raw", {b.raw_x1, b.raw_y1, b.raw_x2, b.raw_y2}}});
  return out;
}

}  // namespace dsvl2
