// Presets of `dsvl2 synth` (random-weight models with real shapes) and the tensor list a
// DeepSeek-VL2 config implies.
//
// A preset is data: the config.json it writes, as the published checkpoints spell it (the Small
// and Base configs leave most language keys to the DeepseekV2Config class defaults; so do these).
// Every shape is derived from the parsed config by SynthTensorPlan, so the weights always agree
// with what DeepseekVL2::Load expects; the synth test checks the plan of the three official
// presets against the official tensor inventories (names, shapes, order, parameter counts).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/tensor.h"
#include "io/config.h"

namespace dsvl2::tools {

struct SynthPreset {
  const char* name;
  const char* summary;           // one line for usage/error messages
  const char* language_config;   // config.json "language_config" object, JSON text
};

// All presets, in the order usage lists them.
const std::vector<SynthPreset>& SynthPresets();
// nullptr if no preset has that name.
const SynthPreset* FindSynthPreset(std::string_view name);
// "vl2-tiny, vl2-small, ..." for error messages.
std::string SynthPresetNames();

// The complete config.json of a preset: the top level of the published DeepSeek-VL2 configs
// (23 candidate resolutions, tile_tag 2D, global_view_pos head, the SigLIP-SO400M vision_config,
// projector n_embed = hidden_size) around the preset's language_config. Keys in HF's sorted order.
nlohmann::ordered_json SynthConfigJson(const SynthPreset& preset);

// How a tensor's random values are drawn.
enum class SynthInit {
  kNormal,  // normal-ish, std 0.02 (matrices, embeddings, pos_embed, image_newline, ...)
  kOnes,    // norm weights
  kZeros,   // biases
  kSmall,   // normal-ish, std 0.01 (noaux_tc e_score_correction_bias)
};

struct SynthTensor {
  std::string name;
  Shape shape;
  SynthInit init = SynthInit::kNormal;
};

// Every tensor of the official checkpoint layout for `cfg`, in the order of the official
// inventories (vision incl. the unused attn_pool, projector, image_newline, view_seperator,
// language model). Assumes cfg passed ParseVl2Config.
std::vector<SynthTensor> SynthTensorPlan(const Vl2Config& cfg);

}  // namespace dsvl2::tools
