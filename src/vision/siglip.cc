#include "vision/siglip.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace dsvl2 {

namespace {
constexpr float kLnEps = 1e-6f;
}

void SiglipVisionTower::Bind(const VisionConfig& cfg, WeightBinder* b) {
  cfg_ = cfg;
  const int64_t w = cfg.width, p = cfg.patch_size, m = cfg.mlp_hidden();
  TensorView conv = b->Matrix("vision.patch_embed.proj.weight", {w, 3, p, p});
  patch_w_ = conv;
  if (patch_w_.valid()) patch_w_.shape = {w, 3 * p * p};
  patch_b_ = b->Vector("vision.patch_embed.proj.bias", {w});
  pos_embed_ = b->Vector("vision.pos_embed", {1, cfg.num_patches(), w});
  blocks_.resize(static_cast<size_t>(cfg.layers));
  for (int i = 0; i < cfg.layers; ++i) {
    const std::string pre = "vision.blocks." + std::to_string(i) + ".";
    Block& blk = blocks_[static_cast<size_t>(i)];
    blk.norm1_w = b->Vector(pre + "norm1.weight", {w});
    blk.norm1_b = b->Vector(pre + "norm1.bias", {w});
    blk.qkv_w = b->Matrix(pre + "attn.qkv.weight", {3 * w, w});
    blk.qkv_b = b->Vector(pre + "attn.qkv.bias", {3 * w});
    blk.proj_w = b->Matrix(pre + "attn.proj.weight", {w, w});
    blk.proj_b = b->Vector(pre + "attn.proj.bias", {w});
    blk.norm2_w = b->Vector(pre + "norm2.weight", {w});
    blk.norm2_b = b->Vector(pre + "norm2.bias", {w});
    blk.fc1_w = b->Matrix(pre + "mlp.fc1.weight", {m, w});
    blk.fc1_b = b->Vector(pre + "mlp.fc1.bias", {m});
    blk.fc2_w = b->Matrix(pre + "mlp.fc2.weight", {w, m});
    blk.fc2_b = b->Vector(pre + "mlp.fc2.bias", {w});
  }
  norm_w_ = b->Vector("vision.norm.weight", {w});
  norm_b_ = b->Vector("vision.norm.bias", {w});
}

void SiglipVisionTower::BlockForward(const Block& blk, int64_t batch, Tensor* x,
                                     Scratch* sc) const {
  const int64_t n = cfg_.num_patches(), w = cfg_.width, rows = batch * n;
  const int heads = cfg_.heads, hd = cfg_.width / cfg_.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // x = x + proj(attn(norm1(x)))
  Tensor& h = sc->h;
  h.Resize({rows, w});
  kernels::LayerNorm(x->data(), blk.norm1_w.data(), blk.norm1_b.data(), rows, w, kLnEps, h.data());
  Tensor& qkv = sc->qkv;
  qkv.Resize({rows, 3 * w});  // per row: q | k | v, each head-major [heads, hd]
  kernels::MatMul(h.data(), rows, w, blk.qkv_w, blk.qkv_b.data(), qkv.data());
  Tensor& attn = sc->attn;
  attn.Resize({rows, w});
  // attn[b, i, head] = softmax(scale * q_i K^T) V per image and head, as matrix products over all
  // n queries at once (AttendMany runs its own parallel regions). The products follow the matmul
  // precision: bf16 at medium like the rest of the tower (autocast), f32 otherwise.
  for (int64_t b = 0; b < batch; ++b) {
    for (int hh = 0; hh < heads; ++hh) {
      kernels::KvSpan span{qkv.row(b * n), n};
      kernels::AttendMany(qkv.row(b * n) + hh * hd, 3 * w, n, hd, &span, 1, 3 * w, w + hh * hd,
                          2 * w + hh * hd, hd, n, /*causal_base=*/-1, /*group=*/1, scale,
                          attn.row(b * n) + hh * hd, w, kernels::AttendProducts::kMatMulPrecision);
    }
  }
  kernels::MatMul(attn.data(), rows, w, blk.proj_w, blk.proj_b.data(), h.data());
  kernels::Add(h.data(), rows * w, x->data());

  // x = x + fc2(gelu_tanh(fc1(norm2(x))))
  kernels::LayerNorm(x->data(), blk.norm2_w.data(), blk.norm2_b.data(), rows, w, kLnEps, h.data());
  const int64_t m = cfg_.mlp_hidden();
  Tensor& f = sc->f;
  f.Resize({rows, m});
  kernels::MatMulGeluTanh(h.data(), rows, w, blk.fc1_w, blk.fc1_b.data(), f.data());
  kernels::MatMul(f.data(), rows, m, blk.fc2_w, blk.fc2_b.data(), h.data());
  kernels::Add(h.data(), rows * w, x->data());
}

void SiglipVisionTower::Forward(const float* pixels, int64_t batch, Tensor* out) const {
  const int64_t s = cfg_.image_size, n = cfg_.num_patches(), w = cfg_.width;
  out->Resize({batch, n, w});
  Scratch scratch;  // reused by every block and pass (no per-block allocation and zero-fill)
  for (int64_t b0 = 0; b0 < batch; b0 += kViewsPerPass) {
    const int64_t views = std::min(kViewsPerPass, batch - b0);
    ForwardViews(pixels + b0 * 3 * s * s, views, &scratch, out->data() + b0 * n * w);
  }
}

void SiglipVisionTower::ForwardViews(const float* pixels, int64_t batch, Scratch* scratch,
                                     float* out) const {
  const int64_t s = cfg_.image_size, p = cfg_.patch_size, g = cfg_.grid(), n = g * g;
  const int64_t w = cfg_.width, pp = 3 * p * p;
  // Patch embedding: Conv2d(3, W, kernel=p, stride=p) as a product over unfolded patches
  // [B*N, 3*p*p] in (c, ky, kx) order; the last S - g*p pixel rows/columns are never seen.
  Tensor patches({batch * n, pp});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t py = 0; py < g; ++py) {
      for (int64_t px = 0; px < g; ++px) {
        float* dst = patches.row(b * n + py * g + px);
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t ky = 0; ky < p; ++ky) {
            const float* src = pixels + ((b * 3 + c) * s + py * p + ky) * s + px * p;
            for (int64_t kx = 0; kx < p; ++kx) *dst++ = src[kx];
          }
      }
    }
  }
  Tensor x({batch * n, w});
  kernels::MatMul(patches.data(), batch * n, pp, patch_w_, patch_b_.data(), x.data());
  for (int64_t b = 0; b < batch; ++b) kernels::Add(pos_embed_.data(), n * w, x.row(b * n));
  for (const Block& blk : blocks_) BlockForward(blk, batch, &x, scratch);
  kernels::LayerNorm(x.data(), norm_w_.data(), norm_b_.data(), batch * n, w, kLnEps, out);
}

}  // namespace dsvl2
