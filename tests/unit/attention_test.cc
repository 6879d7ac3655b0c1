// AttendMany (matrix-product attention for many query rows) against per-row AttendOne, on every
// compiled kernel table, over awkward sizes, uneven spans, strides, causal masks and row groups.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "base/half.h"
#include "kernels/attention.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace dsvl2::kernels {
namespace {

struct Case {
  int64_t m;
  int dk, dv;
  int64_t n_keys, causal_base, group;
};

// Splits rows [0, total) of kv into spans of uneven sizes (as blocks of a paged cache would be).
std::vector<KvSpan> UnevenSpans(const float* kv, int64_t total, int64_t stride) {
  std::vector<KvSpan> spans;
  const int64_t sizes[] = {5, 16, 1, 33, 7};
  int64_t at = 0;
  for (int i = 0; at < total; ++i) {
    const int64_t n = std::min(sizes[i % 5], total - at);
    spans.push_back({kv + at * stride, n});
    at += n;
  }
  return spans;
}

TEST(Attention, AttendManyMatchesAttendOne) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  const Case cases[] = {
      {1, 8, 8, 1, -1, 1},       {5, 7, 5, 3, -1, 1},     {17, 72, 72, 17, -1, 1},
      {300, 72, 72, 300, -1, 1}, {40, 33, 9, 100, -1, 1}, {17, 16, 16, 17, 0, 1},
      {300, 24, 20, 300, 0, 1},  {20, 24, 20, 50, 30, 1}, {48, 40, 32, 20, 4, 3},
      {530, 13, 11, 200, 10, 3}, {16, 8, 8, 10, 100, 1},  {263, 128, 128, 263, 0, 1},
  };
  const KernelTable& saved = Active();
  for (const KernelTable* table : AllSupported()) {
    SetActive(table->isa);
    for (const Case& c : cases) {
      // KV rows [pad | k (dk) | gap | v (dv) | pad]; q and out rows with strides wider than dk/dv.
      const int64_t k_off = 2, v_off = k_off + c.dk + 3, stride = v_off + c.dv + 1;
      const int64_t q_stride = c.dk + 5, out_stride = c.dv + 4;
      std::vector<float> kv(static_cast<size_t>(c.n_keys * stride)),
          q(static_cast<size_t>(c.m * q_stride));
      for (float& v : kv) v = nd(rng);
      for (float& v : q) v = nd(rng);
      std::vector<KvSpan> spans = UnevenSpans(kv.data(), c.n_keys, stride);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
      std::vector<float> got(static_cast<size_t>(c.m * out_stride), NAN), want(got.size(), NAN);
      AttendMany(q.data(), q_stride, c.m, c.dk, spans.data(), static_cast<int>(spans.size()),
                 stride, k_off, v_off, c.dv, c.n_keys, c.causal_base, c.group, scale, got.data(),
                 out_stride);
      for (int64_t r = 0; r < c.m; ++r) {
        const int64_t keys =
            c.causal_base < 0 ? c.n_keys : std::min(c.n_keys, c.causal_base + r / c.group + 1);
        AttendOne(q.data() + r * q_stride, c.dk, spans.data(), static_cast<int>(spans.size()),
                  stride, k_off, v_off, c.dv, keys, scale, want.data() + r * out_stride);
        testing::Diff d = testing::Compare(got.data() + r * out_stride,
                                           want.data() + r * out_stride, static_cast<size_t>(c.dv));
        ASSERT_LE(d.max_abs, 1e-5 * std::sqrt(static_cast<double>(c.dk)) * std::max(1.0, d.max_ref))
            << IsaName(table->isa) << " m=" << c.m << " dk=" << c.dk << " dv=" << c.dv
            << " n_keys=" << c.n_keys << " causal_base=" << c.causal_base << " group=" << c.group
            << " row=" << r;
        // The padding between output rows is left alone.
        for (int64_t p = c.dv; p < out_stride && r + 1 < c.m; ++p)
          ASSERT_TRUE(std::isnan(got[static_cast<size_t>(r * out_stride + p)]));
      }
    }
  }
  SetActive(saved.isa);
}

// AttendProducts::kMatMulPrecision at medium precision, on every table where that changes results:
// the products in bf16 (K, V rounded here; Q and P by the bf16 kernels), against a double
// reference with the same roundings. The kernel's P is rounded from its f32 softmax, the
// reference's from double, so an element near a rounding boundary may differ by one bf16 step
// (2^-8 relative): that bounds each output by 2^-8 sum_j p_j |v_j| (+ f32 noise). The f32 result
// must be several times farther from that reference in rms than the bf16 one (so the roundings
// happen, as modelled). At high precision the option changes nothing, bit for bit.
TEST(Attention, AttendManyBf16ProductsAtMediumPrecision) {
  // The bf16 kernels' routing also where vdpbf16ps is not faster than the f32 FMA (where it is not,
  // medium precision takes the f32 kernels: cpu::Avx512Bf16Preferred).
  if (cpu::Avx512Bf16Usable()) cpu::SetAvx512Bf16PreferredForTest(1);
  auto round = [](double v) { return static_cast<double>(Bf16ToF32(F32ToBf16(static_cast<float>(v)))); };
  std::mt19937 rng(19);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  // Besides the SigLIP head (729 x 72), sizes 1 past a tile (17, 33, 49) in rows, keys, dk and
  // dv: the tile products' partial tiles.
  const Case cases[] = {{300, 72, 72, 300, -1, 1}, {40, 33, 9, 100, -1, 1}, {300, 24, 20, 300, 0, 1},
                        {48, 40, 32, 20, 4, 3},    {272, 128, 128, 272, 0, 1}, {49, 33, 17, 49, -1, 1},
                        {17, 17, 49, 81, -1, 1},   {729, 72, 72, 729, -1, 1}};
  const KernelTable& saved = Active();
  int checked_tables = 0;
  for (const KernelTable* table : AllSupported()) {
    SetActive(table->isa);
    for (const Case& c : cases) {
      const int64_t k_off = 1, v_off = k_off + c.dk + 2, stride = v_off + c.dv;
      const int64_t q_stride = c.dk + 3, out_stride = c.dv + 2;
      std::vector<float> kv(static_cast<size_t>(c.n_keys * stride)), q(static_cast<size_t>(c.m * q_stride));
      for (float& v : kv) v = nd(rng);
      for (float& v : q) v = nd(rng);
      const std::vector<KvSpan> spans = UnevenSpans(kv.data(), c.n_keys, stride);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
      const size_t n_out = static_cast<size_t>(c.m * out_stride);
      // NaN between the output rows: nothing may be written there.
      std::vector<float> f32(n_out, NAN), high(n_out, NAN), got(n_out, NAN);
      auto attend = [&](AttendProducts products, float* out) {
        AttendMany(q.data(), q_stride, c.m, c.dk, spans.data(), static_cast<int>(spans.size()), stride,
                   k_off, v_off, c.dv, c.n_keys, c.causal_base, c.group, scale, out, out_stride, products);
      };
      attend(AttendProducts::kF32, f32.data());
      attend(AttendProducts::kMatMulPrecision, high.data());
      ASSERT_EQ(0, std::memcmp(f32.data(), high.data(), n_out * sizeof(float))) << IsaName(table->isa);
      if (!MediumPrecisionChangesResults(*table)) continue;
      SetMatMulPrecision(MatMulPrecision::kMedium);
      attend(AttendProducts::kMatMulPrecision, got.data());
      SetMatMulPrecision(MatMulPrecision::kHigh);
      for (int64_t r = 0; r < c.m; ++r)
        for (int64_t d = c.dv; d < out_stride; ++d)
          ASSERT_TRUE(std::isnan(got[static_cast<size_t>(r * out_stride + d)])) << "wrote between rows";
      double err_got = 0, err_f32 = 0;
      for (int64_t r = 0; r < c.m; ++r) {
        const int64_t keys = c.causal_base < 0 ? c.n_keys : std::min(c.n_keys, c.causal_base + r / c.group + 1);
        std::vector<double> p(static_cast<size_t>(keys));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < keys; ++j) {
          double dot = 0;
          for (int d = 0; d < c.dk; ++d)
            dot += round(q[static_cast<size_t>(r * q_stride + d)]) * round(kv[static_cast<size_t>(j * stride + k_off + d)]);
          mx = std::max(mx, p[static_cast<size_t>(j)] = dot * scale);
        }
        for (double& v : p) sum += (v = std::exp(v - mx));
        for (int d = 0; d < c.dv; ++d) {
          double want = 0, mass = 0;
          for (int64_t j = 0; j < keys; ++j) {
            const double pj = p[static_cast<size_t>(j)] / sum, vj = round(kv[static_cast<size_t>(j * stride + v_off + d)]);
            want += round(pj) * vj;
            mass += pj * std::fabs(vj);
          }
          const size_t at = static_cast<size_t>(r * out_stride + d);
          ASSERT_NEAR(got[at], want, (std::ldexp(1.0, -8) + 1e-4) * mass + 1e-6)
              << IsaName(table->isa) << " m=" << c.m << " dk=" << c.dk << " n_keys=" << c.n_keys
              << " causal_base=" << c.causal_base << " row=" << r << " d=" << d;
          err_got += (got[at] - want) * (got[at] - want);
          err_f32 += (f32[at] - want) * (f32[at] - want);
        }
      }
      EXPECT_LT(std::sqrt(err_got), 0.25 * std::sqrt(err_f32))
          << IsaName(table->isa) << " m=" << c.m << ": the medium result is not the bf16 one";
    }
    checked_tables += MediumPrecisionChangesResults(*table);
  }
  SetActive(saved.isa);
  cpu::SetAvx512Bf16PreferredForTest(-1);
  if (checked_tables == 0) GTEST_SKIP() << "no kernel table where medium precision changes results";
}

// Single-query attention (decode) of every kernel table against a double-precision softmax, over
// head sizes that are not multiples of the vector width, key counts around the SIMD block sizes
// (8, 16), uneven spans and scores large enough that the running maximum moves between blocks.
TEST(Attention, AttendOneEveryTableMatchesDouble) {
  std::mt19937 rng(11);
  struct OneCase {
    int dk, dv;
    int64_t n_keys;
    float spread;
  };
  const OneCase cases[] = {{1, 1, 1, 1.0f},      {7, 5, 3, 2.0f},       {8, 8, 8, 1.0f},
                           {16, 16, 9, 3.0f},    {24, 40, 15, 1.0f},    {33, 17, 16, 4.0f},
                           {64, 64, 17, 1.0f},   {72, 72, 33, 6.0f},    {128, 128, 100, 1.0f},
                           {128, 128, 300, 8.0f}, {576, 512, 129, 0.5f}, {40, 32, 0, 1.0f}};
  const KernelTable& saved = Active();
  for (const KernelTable* table : AllSupported()) {
    for (const OneCase& c : cases) {
      std::normal_distribution<float> nd(0.0f, c.spread);
      const int64_t k_off = 3, v_off = k_off + c.dk + 2, stride = v_off + c.dv + 1;
      std::vector<float> kv(static_cast<size_t>(std::max<int64_t>(c.n_keys, 1) * stride)), q(static_cast<size_t>(c.dk));
      for (float& v : kv) v = nd(rng);
      for (float& v : q) v = nd(rng);
      std::vector<KvSpan> spans = UnevenSpans(kv.data(), c.n_keys, stride);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
      std::vector<float> got(static_cast<size_t>(c.dv) + 1, NAN);
      table->attend_one(q.data(), c.dk, spans.data(), static_cast<int>(spans.size()), stride, k_off, v_off, c.dv,
                        c.n_keys, scale, got.data());
      // Reference in double.
      std::vector<double> p(static_cast<size_t>(c.n_keys));
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < c.n_keys; ++j) {
        double dot = 0;
        for (int d = 0; d < c.dk; ++d) dot += static_cast<double>(q[static_cast<size_t>(d)]) * kv[static_cast<size_t>(j * stride + k_off + d)];
        p[static_cast<size_t>(j)] = dot * scale;
        mx = std::max(mx, p[static_cast<size_t>(j)]);
      }
      for (double& v : p) sum += (v = std::exp(v - mx));
      for (int d = 0; d < c.dv; ++d) {
        double want = 0;
        for (int64_t j = 0; j < c.n_keys; ++j)
          want += p[static_cast<size_t>(j)] / sum * kv[static_cast<size_t>(j * stride + v_off + d)];
        // Float scores carry ~1e-7 * |q||k| of rounding, amplified by the score spread.
        const double tol = 2e-6 * std::sqrt(static_cast<double>(c.dk)) * c.spread * c.spread * std::max(1.0, static_cast<double>(c.spread));
        ASSERT_NEAR(got[static_cast<size_t>(d)], want, tol * std::max(1.0, std::fabs(want)))
            << IsaName(table->isa) << " dk=" << c.dk << " dv=" << c.dv << " n_keys=" << c.n_keys << " d=" << d;
      }
      ASSERT_TRUE(std::isnan(got[static_cast<size_t>(c.dv)])) << "wrote past dv";
    }
  }
  SetActive(saved.isa);
}

TEST(Attention, SoftmaxRowAvx512MatchesDouble) {
  bool have = false;
  for (const KernelTable* t : AllSupported()) have |= t->isa == Isa::kAvx512;
  if (!have) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(3);
  for (float spread : {0.1f, 5.0f, 60.0f, 400.0f}) {
    std::normal_distribution<float> nd(0.0f, spread);
    for (int64_t len : {1, 2, 15, 16, 17, 31, 33, 100, 729}) {
      const int64_t n = len + 5;
      std::vector<float> s(static_cast<size_t>(n));
      for (float& v : s) v = nd(rng);
      std::vector<float> in = s;
      cpu::SoftmaxRowAvx512(s.data(), len, n, 0.7f);
      // The scaled scores as the kernel rounds them (one float multiply), then exp in double.
      for (float& v : in) v *= 0.7f;
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < len; ++j)
        mx = std::max(mx, static_cast<double>(in[static_cast<size_t>(j)]));
      for (int64_t j = 0; j < len; ++j) sum += std::exp(in[static_cast<size_t>(j)] - mx);
      for (int64_t j = 0; j < n; ++j) {
        const double want = j < len ? std::exp(in[static_cast<size_t>(j)] - mx) / sum : 0.0;
        ASSERT_NEAR(s[static_cast<size_t>(j)], want, 2e-6 * want + 1e-9)
            << "spread=" << spread << " len=" << len << " j=" << j;
      }
    }
  }
}

}  // namespace
}  // namespace dsvl2::kernels
