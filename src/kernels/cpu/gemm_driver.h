// Cache-blocked, packed matrix product for many input rows (prefill, vision): the loop nest shared
// by the SIMD GEMMs, instantiated in each ISA's translation unit with that unit's micro-kernel.
//
// y[m, n] = x[m, k] · w[n, k]^T + bias. Rows go in chunks (all of them unless the packed x would
// pass ~16 MiB); for each chunk
//   - the threads first pack every x block of the chunk ([kc][kMr] per kMr rows and kKc of k),
//     once, into the calling thread's buffer,
//   - then split the output columns in panels of K::kNr (and, when there are fewer than 4 panels
//     per thread, the rows too: attention's P V has n = head dim); each thread, for its columns,
//     walks blocks of kKc along k and kNcPanels panels along n, packs the weight block into panels
//     [kc][kNr] (bf16/f16 converted once per panel) and runs the micro-kernel for every kMr rows
//     over the panels, which keeps kMr x kNr accumulators in registers (broadcast-x FMA).
// The weight block (kKc x kNcPanels*kNr floats) lives in L2, the x block in use in L1. (Packing x
// per weight block instead repacked it n / 256 times: 13-16% of the micro-kernels' time on SigLIP
// shapes, perf on docs/benchmarks/2026-12-02b.) Scratch grows once per thread, so the hot path
// allocates nothing after the first call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/aligned.h"
#include "base/tensor.h"
#include "base/thread_pool.h"

namespace dsvl2::kernels::cpu {

// K provides:
//   static constexpr int kMr, kNr;
//   static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
//                     float* out);
//       out[p * kNr + c] = w[j0 + c, k0 + p] for c < nvalid, 0 for nvalid <= c < kNr.
//   optionally static void PackX(x, k, i0, mr, k0, kc, out): as PackedGemm::PackX below, and
//       static constexpr int kXSlack: floats it may write past kc * kMr, and
//       static constexpr int64_t kXBlockFloats: floats a packed x block of kKc takes (default
//       kKc * kMr; a kernel packing two k per element takes half).
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
  // Floats of one packed x block (kMr rows x kKc), slack included.
  static constexpr int64_t XBlockFloats() {
    if constexpr (requires { K::kXBlockFloats; }) return K::kXBlockFloats + XSlack();
    return kKc * K::kMr + XSlack();
  }

  template <int MR>
  static void MicroN(int mr, const float* xp, const float* wp, int64_t kc, float* y, int64_t ldy,
                     int nvalid, const float* bias, bool first) {
    if constexpr (MR > 1) {
      if (mr < MR) return MicroN<MR - 1>(mr, xp, wp, kc, y, ldy, nvalid, bias, first);
    }
    K::template Micro<MR>(xp, wp, kc, y, ldy, nvalid, bias, first);
  }

  // Packed x of a row chunk is kept for the whole chunk: at most ~16 MiB, and at least 256 rows
  // (so each weight block, packed once per chunk, serves at least as many rows as it has
  // columns). The chunk is re-read from L2/L3 once per weight block, sequentially.
  static constexpr int64_t kMaxPackedXFloats = (int64_t{16} << 20) / 4;

  static void Run(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y) {
    const int64_t n = w.dim(0);
    const int64_t panels = (n + K::kNr - 1) / K::kNr;
    const int64_t kblocks = (k + kKc - 1) / kKc, rblocks = (m + K::kMr - 1) / K::kMr;
    const int64_t xstride = XBlockFloats();  // floats per packed (row block, k block)
    const int64_t chunk_rb =
        std::max<int64_t>((256 + K::kMr - 1) / K::kMr, kMaxPackedXFloats / (kblocks * xstride));
    // The caller's buffer, named through a pointer: the pool's threads have their own
    // thread_locals.
    thread_local AlignedVector<float> xbuf;
    const size_t xneed = static_cast<size_t>(std::min(rblocks, chunk_rb) * kblocks * xstride);
    if (xbuf.size() < xneed) xbuf.resize(xneed);
    float* const xp = xbuf.data();
    ThreadPool& pool = ThreadPool::Global();
    const int64_t threads = pool.num_threads();
    for (int64_t rb0 = 0; rb0 < rblocks; rb0 += chunk_rb) {
      const int64_t nrb = std::min(rblocks - rb0, chunk_rb);
      // Every x block of the chunk packed once, for all column panels (not once per weight block).
      pool.ParallelFor(nrb, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t ib = b0; ib < b1; ++ib) {
          const int64_t i0 = (rb0 + ib) * K::kMr;
          const int mr = static_cast<int>(std::min<int64_t>(K::kMr, m - i0));
          for (int64_t kb = 0; kb < kblocks; ++kb)
            PackX(x, k, i0, mr, kb * kKc, std::min(kKc, k - kb * kKc),
                  xp + (ib * kblocks + kb) * xstride);
        }
      });
      // Work units: (row part, panel). With few panels (e.g. attention's P V, n = head dim) the
      // rows are split too, so that every thread gets work of about equal size.
      const int64_t rparts =
          panels >= 4 * threads ? 1 : std::min(nrb, (4 * threads + panels - 1) / panels);
      pool.ParallelFor(rparts * panels, 1, [&](int64_t u0, int64_t u1) {
        thread_local AlignedVector<float> wbuf;
        const size_t wneed = static_cast<size_t>(kKc * kNcPanels * K::kNr);
        if (wbuf.size() < wneed) wbuf.resize(wneed);
        for (int64_t u = u0; u < u1;) {
          const int64_t rp = u / panels, pb = u % panels, pe = std::min(panels, pb + (u1 - u));
          u += pe - pb;
          const int64_t ib0 = nrb * rp / rparts, ib1 = nrb * (rp + 1) / rparts;
          for (int64_t pc = pb; pc < pe; pc += kNcPanels) {
            const int64_t pce = std::min(pe, pc + kNcPanels);
            for (int64_t kb = 0; kb < kblocks; ++kb) {
              const int64_t k0 = kb * kKc, kc = std::min(kKc, k - k0);
              for (int64_t p = pc; p < pce; ++p) {
                const int nvalid = static_cast<int>(std::min<int64_t>(K::kNr, n - p * K::kNr));
                K::PackW(w, p * K::kNr, nvalid, k0, kc, wbuf.data() + (p - pc) * kc * K::kNr);
              }
              for (int64_t ib = ib0; ib < ib1; ++ib) {
                const int64_t i0 = (rb0 + ib) * K::kMr;
                const int mr = static_cast<int>(std::min<int64_t>(K::kMr, m - i0));
                const float* xblk = xp + (ib * kblocks + kb) * xstride;
                for (int64_t p = pc; p < pce; ++p) {
                  const int64_t j0 = p * K::kNr;
                  const int nvalid = static_cast<int>(std::min<int64_t>(K::kNr, n - j0));
                  MicroN<K::kMr>(mr, xblk, wbuf.data() + (p - pc) * kc * K::kNr, kc,
                                 y + i0 * n + j0, n, nvalid, bias ? bias + j0 : nullptr, k0 == 0);
                }
              }
            }
          }
        }
      });
    }
  }
};

}  // namespace dsvl2::kernels::cpu
