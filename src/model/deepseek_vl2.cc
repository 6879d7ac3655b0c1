#include "model/deepseek_vl2.h"

#include <algorithm>

#include "io/weights.h"
#include "tokenizer/chat.h"
#include "vision/image_layout.h"

namespace dsvl2 {

bool DeepseekVL2::IsQuantizableWeight(const std::string& name) {
  if (name == "language.lm_head.weight") return true;
  if (name.rfind("language.model.layers.", 0) != 0) return false;
  static const char* const kSuffixes[] = {
      ".q_proj.weight",    ".k_proj.weight",  ".v_proj.weight",  ".o_proj.weight",
      ".q_a_proj.weight",  ".q_b_proj.weight", ".kv_a_proj_with_mqa.weight",
      ".gate_proj.weight", ".up_proj.weight", ".down_proj.weight"};
  for (const char* s : kSuffixes)
    if (name.ends_with(s)) return true;
  return false;
}

StatusOr<std::unique_ptr<DeepseekVL2>> DeepseekVL2::Load(const std::string& model_dir,
                                                         const std::string& weights, bool copy_weights) {
  std::unique_ptr<DeepseekVL2> m(new DeepseekVL2());
  ASSIGN_OR_RETURN(m->cfg_, LoadVl2Config(model_dir));
  ASSIGN_OR_RETURN(WeightConversion conv, ParseWeightConversion(weights));
  conv.applies = &IsQuantizableWeight;
  conv.copy_to_memory = copy_weights;
  ASSIGN_OR_RETURN(m->store_, TensorStore::OpenDir(model_dir));
  WeightBinder binder(m->store_.get(), conv, &m->converted_);
  m->vision_.Bind(m->cfg_.vision_config, &binder);
  m->projector_.Bind(m->cfg_.projector_config, m->cfg_.vision_config.grid(), &binder);
  const int64_t d = m->cfg_.language_config.hidden_size;
  m->image_newline_ = binder.Vector("image_newline", {d});
  m->view_separator_ = binder.Vector("view_seperator", {d});  // (sic) the official name
  m->lm_.Bind(m->cfg_.language_config, &binder);
  RETURN_IF_ERROR(binder.status().WithContext(model_dir));
  return m;
}

int64_t DeepseekVL2::ImageTokens(int tiles_w, int tiles_h) const {
  return ImageTokenCount(tiles_w, tiles_h, projector_.out_side());
}

void DeepseekVL2::VisionFeatures(const float* tiles, int64_t batch, Tensor* out) const {
  vision_.Forward(tiles, batch, out);
}

Status DeepseekVL2::EncodeImage(const ImageInput& image, Tensor* out) const {
  const int64_t s = tile_size();
  if (image.tiles_w < 1 || image.tiles_h < 1)
    return Status::Error("image tile grid must be at least 1x1");
  const int64_t views = 1 + static_cast<int64_t>(image.tiles_w) * image.tiles_h;
  if (static_cast<int64_t>(image.pixels.size()) != views * 3 * s * s)
    return Status::Error(StrFormat("image pixels: expected %lld views of 3x%lldx%lld",
                                   static_cast<long long>(views), static_cast<long long>(s),
                                   static_cast<long long>(s)));
  Tensor features, projected;
  VisionFeatures(image.pixels.data(), views, &features);
  Project(features, &projected);
  const int64_t d = cfg_.language_config.hidden_size;
  out->Resize({ImageTokens(image.tiles_w, image.tiles_h), d});
  LayoutImageTokens(projected.data(), projector_.out_side(), d, image.tiles_w, image.tiles_h,
                    image_newline_.data(), view_separator_.data(), out->data());
  return Status::Ok();
}

Status DeepseekVL2::BuildInputsEmbeds(const std::vector<int32_t>& input_ids,
                                      const std::vector<uint8_t>& images_seq_mask,
                                      const std::vector<Tensor>& image_embeds, Tensor* out) const {
  const int64_t t = static_cast<int64_t>(input_ids.size()), d = cfg_.language_config.hidden_size;
  if (!images_seq_mask.empty() && images_seq_mask.size() != input_ids.size())
    return Status::Error("images_seq_mask length differs from input_ids");
  out->Resize({t, d});
  RETURN_IF_ERROR(lm_.Embed(input_ids.data(), t, out->data()));
  int64_t slots = 0, rows = 0;
  for (uint8_t m : images_seq_mask) slots += m ? 1 : 0;
  for (const Tensor& e : image_embeds) rows += e.dim(0);
  if (slots != rows)
    return Status::Error(StrFormat("%lld image placeholder tokens but %lld image embedding rows",
                                   static_cast<long long>(slots), static_cast<long long>(rows)));
  // masked_scatter_: image rows fill the masked positions in sequence order.
  size_t img = 0;
  int64_t img_row = 0;
  for (int64_t i = 0; i < t && slots > 0; ++i) {
    if (!images_seq_mask[static_cast<size_t>(i)]) continue;
    while (img_row >= image_embeds[img].dim(0)) {
      ++img;
      img_row = 0;
    }
    std::copy(image_embeds[img].row(img_row), image_embeds[img].row(img_row) + d, out->row(i));
    ++img_row;
  }
  return Status::Ok();
}

}  // namespace dsvl2
