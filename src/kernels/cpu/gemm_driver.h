// Cache-blocked, packed matrix product for many input rows (prefill, vision): the loop nest shared
// by the SIMD GEMMs, instantiated in each ISA's translation unit with that unit's micro-kernel.
//
// y[m, n] = x[m, k] · w[n, k]^T + bias. Output columns are split over the thread pool in panels of
// K::kNr; each thread, for its columns, walks blocks of kKc along k and kNcPanels panels along n:
//   - packs the weight block into f32 panels [kc][kNr] (bf16/f16 converted once per panel),
//   - for every kMr rows of x packs the x block into [kc][kMr] and runs the micro-kernel over the
//     panels, which keeps kMr x kNr accumulators in registers (broadcast-x FMA).
// The weight block (kKc x kNcPanels*kNr floats) lives in L2, the packed x block in L1. Scratch is
// per thread and grows once, so the hot path allocates nothing after the first call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"

namespace dsvl2::kernels::cpu {

// K provides:
//   static constexpr int kMr, kNr;
//   static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
//                     float* out);
//       out[p * kNr + c] = w[j0 + c, k0 + p] for c < nvalid, 0 for nvalid <= c < kNr.
//   optionally static void PackX(x, k, i0, mr, k0, kc, out): as PackedGemm::PackX below, and
//       static constexpr int kXSlack: floats it may write past kc * kMr.
//   template <int MR> static void Micro(const float* xp, const float* wp, int64_t kc, float* y,
//       int64_t ldy, int nvalid, const float* bias /*null: accumulate into y*/, bool first);
//       first: y = acc (+ bias if given); otherwise y += acc. Rows [0, MR), columns [0, nvalid).
template <typename K>
struct PackedGemm {
  static constexpr int64_t kKc = 256;
  static constexpr int64_t kNcPanels = 256 / K::kNr;

  // x block rows [i0, i0+mr) x cols [k0, k0+kc) -> out[p * kMr + r], zero rows past mr. The
  // kernel's own (SIMD transposing) K::PackX when it has one.
  static void PackX(const float* x, int64_t k, int64_t i0, int mr, int64_t k0, int64_t kc,
                    float* out) {
    if constexpr (requires { K::PackX(x, k, i0, mr, k0, kc, out); }) {
      K::PackX(x, k, i0, mr, k0, kc, out);
      return;
    }
    for (int r = 0; r < K::kMr; ++r) {
      if (r < mr) {
        const float* src = x + (i0 + r) * k + k0;
        for (int64_t p = 0; p < kc; ++p) out[p * K::kMr + r] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) out[p * K::kMr + r] = 0.0f;
      }
    }
  }

  // Floats the kernel's PackX may write past kKc * kMr (K::kXSlack, 0 if it has none).
  static constexpr int64_t XSlack() {
    if constexpr (requires { K::kXSlack; }) return K::kXSlack;
    return 0;
  }

  template <int MR>
  static void MicroN(int mr, const float* xp, const float* wp, int64_t kc, float* y, int64_t ldy,
                     int nvalid, const float* bias, bool first) {
    if constexpr (MR > 1) {
      if (mr < MR) return MicroN<MR - 1>(mr, xp, wp, kc, y, ldy, nvalid, bias, first);
    }
    K::template Micro<MR>(xp, wp, kc, y, ldy, nvalid, bias, first);
  }

  static void Run(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y) {
    const int64_t n = w.dim(0);
    const int64_t panels = (n + K::kNr - 1) / K::kNr;
    ThreadPool::Global().ParallelFor(panels, 1, [&](int64_t pb, int64_t pe) {
      thread_local std::vector<float> wbuf, xbuf;
      const size_t wneed = static_cast<size_t>(kKc * kNcPanels * K::kNr);
      const size_t xneed = static_cast<size_t>(kKc * K::kMr + XSlack());
      if (wbuf.size() < wneed) wbuf.resize(wneed);
      if (xbuf.size() < xneed) xbuf.resize(xneed);
      for (int64_t pc = pb; pc < pe; pc += kNcPanels) {
        const int64_t pce = std::min(pe, pc + kNcPanels);
        for (int64_t k0 = 0; k0 < k; k0 += kKc) {
          const int64_t kc = std::min(kKc, k - k0);
          for (int64_t p = pc; p < pce; ++p) {
            const int nvalid = static_cast<int>(std::min<int64_t>(K::kNr, n - p * K::kNr));
            K::PackW(w, p * K::kNr, nvalid, k0, kc, wbuf.data() + (p - pc) * kc * K::kNr);
          }
          for (int64_t i0 = 0; i0 < m; i0 += K::kMr) {
            const int mr = static_cast<int>(std::min<int64_t>(K::kMr, m - i0));
            PackX(x, k, i0, mr, k0, kc, xbuf.data());
            for (int64_t p = pc; p < pce; ++p) {
              const int64_t j0 = p * K::kNr;
              const int nvalid = static_cast<int>(std::min<int64_t>(K::kNr, n - j0));
              MicroN<K::kMr>(mr, xbuf.data(), wbuf.data() + (p - pc) * kc * K::kNr, kc,
                             y + i0 * n + j0, n, nvalid, bias ? bias + j0 : nullptr, k0 == 0);
            }
          }
        }
      }
    });
  }
};

}  // namespace dsvl2::kernels::cpu
