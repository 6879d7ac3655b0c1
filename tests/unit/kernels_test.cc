// Every compiled kernel table against the scalar reference, over awkward sizes and weight dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/half.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

namespace dsvl2::kernels {
namespace {

struct Weights {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  TensorView view;
};

Weights MakeWeights(DType dt, int64_t n, int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Weights w;
  w.f32.resize(static_cast<size_t>(n * k));
  for (float& v : w.f32) v = nd(rng);
  if (dt == DType::kF32) {
    w.view = {DType::kF32, {n, k}, w.f32.data()};
  } else {
    w.half.resize(w.f32.size());
    for (size_t i = 0; i < w.f32.size(); ++i)
      w.half[i] = dt == DType::kBF16 ? F32ToBf16(w.f32[i]) : F32ToF16(w.f32[i]);
    w.view = {dt, {n, k}, w.half.data()};
  }
  return w;
}

TEST(Kernels, MatMulMatchesReference) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const KernelTable* table : AllSupported()) {
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
      for (int64_t m : {1, 2, 3, 4, 5, 6, 17, 31, 47}) {
        for (int64_t k : {1, 7, 8, 9, 33, 100, 257}) {
          for (int64_t n : {1, 3, 4, 5, 13, 64}) {
            Weights w = MakeWeights(dt, n, k, rng);
            std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
            for (float& v : x) v = nd(rng);
            for (float& v : bias) v = nd(rng);
            for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
              std::vector<float> got(static_cast<size_t>(m * n), NAN), want(got.size());
              table->matmul(x.data(), m, k, w.view, b, got.data());
              ref::MatMul(x.data(), m, k, w.view, b, want.data());
              testing::Diff d = testing::Compare(got.data(), want.data(), got.size());
              EXPECT_LE(d.max_abs, 1e-5 * std::sqrt(static_cast<double>(k)) * std::max(1.0, d.max_ref))
                  << IsaName(table->isa) << " " << DTypeName(dt) << " m=" << m << " k=" << k << " n=" << n;
            }
            std::vector<float> xt(static_cast<size_t>(m * n));
            for (float& v : xt) v = nd(rng);
            std::vector<float> got(static_cast<size_t>(m * k), NAN), want(got.size());
            table->matmul_t(xt.data(), m, w.view, got.data());
            ref::MatMulTransposed(xt.data(), m, w.view, want.data());
            testing::Diff d = testing::Compare(got.data(), want.data(), got.size());
            EXPECT_LE(d.max_abs, 1e-5 * std::sqrt(static_cast<double>(n)) * std::max(1.0, d.max_ref))
                << "transposed " << IsaName(table->isa) << " " << DTypeName(dt) << " m=" << m << " k=" << k << " n=" << n;
          }
        }
      }
    }
  }
}

// The packed GEMM path (m >= 16 rows in the SIMD tables): sizes off the 14x32 / 6x16 register tiles,
// k across the 256-wide cache blocks, n across panels, m across the ~16 MiB chunks of packed x
// (300 x 16000: two chunks on both SIMD tables), with and without bias.
TEST(Kernels, GemmMatchesReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct Size { int64_t m, k, n; };
  const Size sizes[] = {{16, 1, 1},    {16, 7, 33},   {17, 256, 32},  {29, 257, 31}, {14, 300, 65},
                        {15, 16, 16},  {64, 513, 97}, {100, 64, 257}, {33, 1000, 40}, {128, 129, 300},
                        {300, 16000, 8}};
  for (const KernelTable* table : AllSupported()) {
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
      for (const Size& sz : sizes) {
        Weights w = MakeWeights(dt, sz.n, sz.k, rng);
        std::vector<float> x(static_cast<size_t>(sz.m * sz.k)), bias(static_cast<size_t>(sz.n));
        for (float& v : x) v = nd(rng);
        for (float& v : bias) v = nd(rng);
        for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          std::vector<float> got(static_cast<size_t>(sz.m * sz.n), NAN), want(got.size());
          table->matmul(x.data(), sz.m, sz.k, w.view, b, got.data());
          ref::MatMul(x.data(), sz.m, sz.k, w.view, b, want.data());
          testing::Diff d = testing::Compare(got.data(), want.data(), got.size());
          EXPECT_LE(d.max_abs, 1e-5 * std::sqrt(static_cast<double>(sz.k)) * std::max(1.0, d.max_ref))
              << IsaName(table->isa) << " " << DTypeName(dt) << " m=" << sz.m << " k=" << sz.k
              << " n=" << sz.n << (b ? " bias" : "");
        }
      }
    }
  }
}

// Column ranges on the calling thread, and the fused SwiGLU (both the single-pass few-row path and
// the GEMM path), against the reference products and SiluMul.
TEST(Kernels, ColsAndSwiGluMatchReference) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct Size { int64_t m, k, n; };
  const Size sizes[] = {{1, 1, 1},   {1, 7, 5},    {1, 1280, 67}, {2, 33, 13}, {3, 17, 4},
                        {5, 100, 9}, {16, 64, 35}, {20, 300, 18}, {1, 16, 64}, {7, 257, 3},
                        {47, 70, 21}};
  for (const KernelTable* table : AllSupported()) {
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
      for (const Size& sz : sizes) {
        Weights g = MakeWeights(dt, sz.n, sz.k, rng), u = MakeWeights(dt, sz.n, sz.k, rng);
        std::vector<float> x(static_cast<size_t>(sz.m * sz.k));
        for (float& v : x) v = nd(rng);
        const size_t count = static_cast<size_t>(sz.m * sz.n);
        std::vector<float> gw(count), uw(count), want(count);
        ref::MatMul(x.data(), sz.m, sz.k, g.view, nullptr, gw.data());
        ref::MatMul(x.data(), sz.m, sz.k, u.view, nullptr, uw.data());
        SiluMul(gw.data(), uw.data(), static_cast<int64_t>(count), want.data());
        const double tol = 1e-5 * std::sqrt(static_cast<double>(sz.k));
        const std::string what = std::string(IsaName(table->isa)) + " " + DTypeName(dt) +
                                 " m=" + std::to_string(sz.m) + " k=" + std::to_string(sz.k) +
                                 " n=" + std::to_string(sz.n);
        // Columns [j0, j1) only: the rest of y must stay untouched.
        const int64_t j0 = sz.n / 3, j1 = sz.n - sz.n / 4;
        std::vector<float> cols(count, -7.0f);
        table->matmul_cols(x.data(), sz.m, sz.k, g.view, j0, j1, cols.data());
        for (int64_t i = 0; i < sz.m; ++i)
          for (int64_t j = 0; j < sz.n; ++j) {
            const size_t at = static_cast<size_t>(i * sz.n + j);
            if (j < j0 || j >= j1)
              EXPECT_EQ(cols[at], -7.0f) << "cols wrote outside range " << what;
            else
              EXPECT_NEAR(cols[at], gw[at], tol * std::max(1.0, std::fabs(static_cast<double>(gw[at])))) << "cols " << what;
          }
        std::vector<float> sc(count, -7.0f);
        table->swiglu_cols(x.data(), sz.m, sz.k, g.view, u.view, j0, j1, sc.data());
        for (int64_t i = 0; i < sz.m; ++i)
          for (int64_t j = j0; j < j1; ++j) {
            const size_t at = static_cast<size_t>(i * sz.n + j);
            const double scale = std::max(1.0, std::fabs(static_cast<double>(gw[at]))) * std::max(1.0, std::fabs(static_cast<double>(uw[at])));
            EXPECT_NEAR(sc[at], want[at], 2 * tol * scale) << "swiglu_cols " << what;
          }
        std::vector<float> full(count, NAN);
        SwiGluWith(*table, x.data(), sz.m, sz.k, g.view, u.view, full.data());
        for (size_t at = 0; at < count; ++at) {
          const double scale = std::max(1.0, std::fabs(static_cast<double>(gw[at]))) * std::max(1.0, std::fabs(static_cast<double>(uw[at])));
          EXPECT_NEAR(full[at], want[at], 2 * tol * scale) << "SwiGlu " << what << " at " << at;
        }
      }
    }
  }
}

TEST(Kernels, AttendOneMatchesSoftmax) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  const int dk = 24, dv = 16;
  const int64_t stride = 50, rows = 37;
  std::vector<float> kv(static_cast<size_t>(rows * stride)), q(dk);
  for (float& v : kv) v = nd(rng);
  for (float& v : q) v = nd(rng);
  for (int64_t n_keys : {1, 2, 16, 37}) {
    // Split into uneven spans as a paged cache would.
    std::vector<KvSpan> spans = {{kv.data(), 5}, {kv.data() + 5 * stride, 16}, {kv.data() + 21 * stride, 16}};
    std::vector<float> got(dv);
    AttendOne(q.data(), dk, spans.data(), 3, stride, 3, 30, dv, n_keys, 0.3f, got.data());
    std::vector<double> s(static_cast<size_t>(n_keys));
    double mx = -1e30;
    for (int64_t j = 0; j < n_keys; ++j) {
      double dot = 0;
      for (int d = 0; d < dk; ++d) dot += static_cast<double>(q[d]) * kv[static_cast<size_t>(j * stride + 3 + d)];
      s[static_cast<size_t>(j)] = dot * 0.3;
      mx = std::max(mx, s[static_cast<size_t>(j)]);
    }
    double sum = 0;
    for (double& v : s) sum += (v = std::exp(v - mx));
    for (int d = 0; d < dv; ++d) {
      double want = 0;
      for (int64_t j = 0; j < n_keys; ++j) want += s[static_cast<size_t>(j)] / sum * kv[static_cast<size_t>(j * stride + 30 + d)];
      EXPECT_NEAR(got[d], want, 1e-4 * std::max(1.0, std::fabs(want))) << "n_keys=" << n_keys << " d=" << d;
    }
  }
}

TEST(Kernels, NormsAndActivations) {
  std::vector<float> x = {1, -2, 3, 0.5f}, w = {1, 2, 0.5f, -1}, b = {0, 1, 0, 1}, y(4);
  RmsNorm(x.data(), w.data(), 1, 4, 1e-6f, y.data());
  const double rms = std::sqrt((1 + 4 + 9 + 0.25) / 4 + 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], w[i] * x[i] / rms, 1e-6);
  LayerNorm(x.data(), w.data(), b.data(), 1, 4, 1e-6f, y.data());
  const double mean = 0.625, var = ((1 - mean) * (1 - mean) + (-2 - mean) * (-2 - mean) + (3 - mean) * (3 - mean) + (0.5 - mean) * (0.5 - mean)) / 4;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (x[i] - mean) / std::sqrt(var + 1e-6) * w[i] + b[i], 1e-5);
  std::vector<float> g = {-3, -0.5f, 0, 0.5f, 3};
  std::vector<float> ge = g, gt = g;
  GeluErf(ge.data(), 5);
  GeluTanh(gt.data(), 5);
  for (size_t i = 0; i < g.size(); ++i) {
    const double v = g[i];
    EXPECT_NEAR(ge[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(gt[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-6);
  }
  std::vector<float> sm = {1, 2, 3};
  Softmax(sm.data(), 3);
  EXPECT_NEAR(sm[0] + sm[1] + sm[2], 1.0, 1e-6);
  EXPECT_NEAR(sm[2] / sm[1], std::exp(1.0), 1e-5);
}

// Every table's silu_mul / gelu_tanh (and the scalar reference) against the functions in double:
// the vector exp is ~2 ulp and each result takes a few more roundings, but the result is also
// ill-conditioned in the argument a of the exp (relative error ~ |a| ulp once e^a dominates,
// since a itself is rounded to float), so the bound is (8 + 4 |a|) ulp of the result, plus a tiny
// absolute term where the result underflows. n from 1 to past two vectors (tails), values over
// the whole range where the results are finite, and NaN passed through.
TEST(Kernels, ActivationsMatchReference) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> expo(-12.0f, 7.0f);
  std::vector<float> g, u;
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 87.0f, -87.0f, 90.0f, -90.0f, 1e4f, -1e4f})
    g.push_back(v);
  for (int i = 0; i < 400; ++i) g.push_back((rng() & 1 ? 1.0f : -1.0f) * std::exp2(expo(rng)));
  for (size_t i = 0; i < g.size(); ++i) u.push_back(std::exp2(expo(rng)) * (i % 3 ? 1.0f : -1.0f));
  const double c2 = ref::kGeluTanhC2;
  auto close = [](float got, double want, double arg) {
    return std::fabs(got - want) <= (8 + 4 * std::fabs(arg)) * std::exp2(-24.0) * std::fabs(want) + 1e-30;
  };
  std::vector<const KernelTable*> tables = AllSupported();
  for (const KernelTable* t : tables) {
    ASSERT_TRUE(t->silu_mul && t->gelu_tanh) << IsaName(t->isa);
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{17}, int64_t{33},
                      static_cast<int64_t>(g.size())}) {
      for (bool reference : {false, true}) {
        std::vector<float> got(static_cast<size_t>(n), NAN), gelu(g.begin(), g.begin() + n);
        (reference ? ref::SiluMul : t->silu_mul)(g.data(), u.data(), n, got.data());
        (reference ? ref::GeluTanh : t->gelu_tanh)(gelu.data(), n);
        const char* who = reference ? "ref" : IsaName(t->isa);
        for (int64_t i = 0; i < n; ++i) {
          const double v = g[i], a = -c2 * (v + 0.044715 * v * v * v);
          const double silu = v / (1 + std::exp(-v)) * u[i], gl = v / (1 + std::exp(a));
          ASSERT_TRUE(close(got[i], silu, v)) << who << " silu(" << v << ") * " << u[i] << ": " << got[i] << " vs " << silu;
          ASSERT_TRUE(close(gelu[i], gl, a)) << who << " gelu(" << v << "): " << gelu[i] << " vs " << gl;
        }
      }
    }
    std::vector<float> nan_in(20, 1.0f), out(20), ones(20, 1.0f);
    nan_in[3] = nan_in[17] = NAN;
    t->silu_mul(nan_in.data(), ones.data(), 20, out.data());
    EXPECT_TRUE(std::isnan(out[3]) && std::isnan(out[17]) && !std::isnan(out[4])) << IsaName(t->isa);
    t->gelu_tanh(nan_in.data(), 20);
    EXPECT_TRUE(std::isnan(nan_in[3]) && std::isnan(nan_in[17]) && !std::isnan(nan_in[4])) << IsaName(t->isa);
  }
}

TEST(Kernels, RopeLayouts) {
  // NeoX pairs (i, i+half); interleaved pairs (2i, 2i+1); both are rotations (norm preserved).
  std::vector<float> v = {1, 2, 3, 4}, c = {0.6f, 1.0f}, s = {0.8f, 0.0f};
  std::vector<float> a = v;
  RopeNeox(a.data(), 4, c.data(), s.data());
  EXPECT_NEAR(a[0], 1 * 0.6 - 3 * 0.8, 1e-6);
  EXPECT_NEAR(a[2], 3 * 0.6 + 1 * 0.8, 1e-6);
  EXPECT_NEAR(a[1], 2, 1e-6);
  std::vector<float> b = v;
  RopeInterleaved(b.data(), 4, c.data(), s.data());
  EXPECT_NEAR(b[0], 1 * 0.6 - 2 * 0.8, 1e-6);
  EXPECT_NEAR(b[1], 2 * 0.6 + 1 * 0.8, 1e-6);
  EXPECT_NEAR(b[2], 3, 1e-6);
}

}  // namespace
}  // namespace dsvl2::kernels
