// The AMX bf16 tile GEMM (cpu/gemm_amx.cc) against a double-precision product, for 1, 2 and 3
// bf16 parts per activation, over sizes that hit every edge: input rows not a multiple of 16 or
// 32, output columns not a multiple of 16 or 32 (the zero-padded last block), k with an f32 tail
// (k % 32 != 0) and k that spans several L1 slabs and L2 groups. Skipped where the CPU or OS has
// no AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

namespace dsvl2::kernels {
namespace {

struct Case {
  int64_t m, k, n;
};

TEST(AmxGemm, MatchesDoubleWithinThePartBound) {
  if (!AmxBf16Usable()) GTEST_SKIP() << "no AMX-BF16 on this CPU / OS";
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> expo(-6.0f, 6.0f);
  const Case cases[] = {{16, 32, 16},  {17, 33, 17},   {31, 64, 31},   {32, 100, 32},  {33, 48, 33},
                        {48, 1152, 45}, {70, 300, 97}, {16, 4304, 40}, {100, 96, 257}, {40, 2080, 640}};
  for (const Case& c : cases) {
    // Weights exactly bf16; activations over a wide range of magnitudes so that every part of the
    // split carries information.
    std::vector<uint16_t> w(static_cast<size_t>(c.n * c.k));
    for (auto& v : w) v = F32ToBf16(nd(rng));
    std::vector<float> x(static_cast<size_t>(c.m * c.k)), bias(static_cast<size_t>(c.n));
    for (float& v : x) v = nd(rng) * std::exp2(expo(rng));
    for (float& v : bias) v = nd(rng);
    const TensorView wv{DType::kBF16, {c.n, c.k}, w.data()};
    double worst_rel[4] = {0, 0, 0, 0};
    for (int terms = 1; terms <= 3; ++terms) {
      // One guard row past m: nothing may be written there.
      std::vector<float> y(static_cast<size_t>((c.m + 1) * c.n), NAN);
      cpu::GemmAmxBf16(x.data(), c.m, c.k, wv, bias.data(), y.data(), terms);
      for (int64_t j = 0; j < c.n; ++j) ASSERT_TRUE(std::isnan(y[static_cast<size_t>(c.m * c.n + j)])) << "wrote past m";
      for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
          double want = bias[static_cast<size_t>(j)], mag = 0;
          for (int64_t q = 0; q < c.k; ++q) {
            const double p = static_cast<double>(x[static_cast<size_t>(i * c.k + q)]) *
                             Bf16ToF32(w[static_cast<size_t>(j * c.k + q)]);
            want += p;
            mag += std::fabs(p);
          }
          const double got = y[static_cast<size_t>(i * c.n + j)];
          // Split residual 2^(-8 terms) per product (bf16 keeps 8 significant bits), plus f32
          // rounding of the accumulation.
          const double bound = (1.01 * std::exp2(-8.0 * terms) + static_cast<double>(c.k + 2) * std::exp2(-23.0)) * mag +
                               std::fabs(want) * std::exp2(-22.0) + 1e-30;
          ASSERT_LE(std::fabs(got - want), bound) << "terms=" << terms << " m=" << c.m << " k=" << c.k
                                                  << " n=" << c.n << " at " << i << "," << j;
          worst_rel[terms] = std::max(worst_rel[terms], std::fabs(got - want) / (mag + 1e-30));
        }
    }
    // The parts do their work: one part is bf16 autocast (errors near 2^-8 of the magnitudes),
    // each further part is far closer; three parts reach the f32 accumulation noise.
    EXPECT_GT(worst_rel[1], 1e-4) << "m=" << c.m << " k=" << c.k << " n=" << c.n;
    EXPECT_LT(worst_rel[2], worst_rel[1] / 50) << "m=" << c.m << " k=" << c.k << " n=" << c.n;
    EXPECT_LT(worst_rel[3], 4e-7) << "m=" << c.m << " k=" << c.k << " n=" << c.n;
  }
}

// The AMX kernel table routes bf16 weights with many rows to the tile GEMM and everything else to
// the AVX-512 kernels: f32 and f16 weights give the AVX-512 table's results bit for bit, bf16
// weights agree to f32 accumulation noise (the default 3 parts).
TEST(AmxGemm, TableAgreesWithAvx512) {
  if (!AmxBf16Usable()) GTEST_SKIP() << "no AMX-BF16 on this CPU / OS";
  const KernelTable* amx = nullptr;
  const KernelTable* avx512 = nullptr;
  for (const KernelTable* t : AllSupported()) {
    if (t->isa == Isa::kAmx) amx = t;
    if (t->isa == Isa::kAvx512) avx512 = t;
  }
  ASSERT_NE(amx, nullptr) << "AMX usable but no amx table";
  ASSERT_NE(avx512, nullptr);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (DType dt : {DType::kBF16, DType::kF32, DType::kF16}) {
    for (int64_t m : {1, 15, 16, 40, 200}) {
      const int64_t k = 1152, n = 100;
      std::vector<float> wf(static_cast<size_t>(n * k)), x(static_cast<size_t>(m * k));
      for (float& v : wf) v = nd(rng);
      for (float& v : x) v = nd(rng);
      std::vector<uint16_t> wh(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) wh[i] = dt == DType::kBF16 ? F32ToBf16(wf[i]) : F32ToF16(wf[i]);
      const TensorView wv{dt, {n, k}, dt == DType::kF32 ? static_cast<const void*>(wf.data()) : wh.data()};
      std::vector<float> a(static_cast<size_t>(m * n)), b(a.size());
      amx->matmul(x.data(), m, k, wv, nullptr, a.data());
      avx512->matmul(x.data(), m, k, wv, nullptr, b.data());
      double worst = 0;
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
      if (dt != DType::kBF16 || m < cpu::kAmxMinRows) {
        EXPECT_EQ(worst, 0.0) << DTypeName(dt) << " m=" << m;
      } else {
        // Sums of 1152 products of N(0,1) values: |y| ~ 34, sum |x w| ~ 735. With the default 3
        // parts the tile GEMM is as accurate as the f32 one: both within f32 accumulation noise
        // (~1e-5 here; 2 parts give ~3e-4, 1 part ~0.2).
        EXPECT_LT(worst, 1e-4) << DTypeName(dt) << " m=" << m;
        EXPECT_GT(worst, 0.0) << "bf16 m=" << m << ": the tile GEMM did not run";
      }
    }
  }
}

// MatMulPrecision selects the parts: high (default) is the 3-part GEMM, medium the 1-part one
// (bit for bit), and f32 weights are unaffected.
TEST(AmxGemm, PrecisionSelectsTheParts) {
  if (!AmxBf16Usable()) GTEST_SKIP() << "no AMX-BF16 on this CPU / OS";
  ASSERT_EQ(GetMatMulPrecision(), MatMulPrecision::kHigh) << "the default";
  const KernelTable* amx = nullptr;
  for (const KernelTable* t : AllSupported())
    if (t->isa == Isa::kAmx) amx = t;
  ASSERT_NE(amx, nullptr);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t m = 40, k = 320, n = 48;
  std::vector<uint16_t> w(static_cast<size_t>(n * k));
  for (auto& v : w) v = F32ToBf16(nd(rng));
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = nd(rng);
  const TensorView wv{DType::kBF16, {n, k}, w.data()};
  auto run = [&](auto fn) {
    std::vector<float> y(static_cast<size_t>(m * n));
    fn(y.data());
    return y;
  };
  const auto one = run([&](float* y) { cpu::GemmAmxBf16(x.data(), m, k, wv, nullptr, y, 1); });
  const auto three = run([&](float* y) { cpu::GemmAmxBf16(x.data(), m, k, wv, nullptr, y, 3); });
  ASSERT_NE(one, three);
  EXPECT_EQ(run([&](float* y) { amx->matmul(x.data(), m, k, wv, nullptr, y); }), three);
  SetMatMulPrecision(MatMulPrecision::kMedium);
  const auto medium = run([&](float* y) { amx->matmul(x.data(), m, k, wv, nullptr, y); });
  SetMatMulPrecision(MatMulPrecision::kHigh);
  EXPECT_EQ(medium, one);
  MatMulPrecision p;
  EXPECT_TRUE(ParseMatMulPrecision("medium", &p));
  EXPECT_EQ(p, MatMulPrecision::kMedium);
  EXPECT_FALSE(ParseMatMulPrecision("low", &p));
}

// MatMulGeluTanh on every table, at both precisions: y = gelu_tanh(x w^T + bias) where
// x w^T + bias is exactly the table's MatMul, and the GELU within 1e-5 of the scalar
// reference (the AMX table applies the vector GELU as its tiles are stored; the others run MatMul
// and then GeluTanh). Sizes with partial row / column blocks and a k tail; rows below the tile
// GEMM's threshold take the unfused path on AMX too.
TEST(AmxGemm, MatMulGeluTanhIsGeluOfTheMatMul) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const Case cases[] = {{16, 32, 16}, {33, 100, 45}, {70, 1152, 97}, {15, 64, 33}, {40, 2080, 640}};
  const KernelTable& saved = Active();
  for (const KernelTable* table : AllSupported()) {
    SetActive(table->isa);
    for (MatMulPrecision precision : {MatMulPrecision::kHigh, MatMulPrecision::kMedium}) {
      SetMatMulPrecision(precision);
      for (const Case& c : cases) {
        const std::vector<uint16_t> w = testing::RandomBf16(c.n * c.k, rng, nd);
        std::vector<float> x(static_cast<size_t>(c.m * c.k)), bias(static_cast<size_t>(c.n));
        // |x w^T| ~ 3: the GELU's curved part, and its tails, both well populated.
        for (float& v : x) v = nd(rng) * 3.0f / std::sqrt(static_cast<float>(c.k));
        for (float& v : bias) v = nd(rng);
        const TensorView wv{DType::kBF16, {c.n, c.k}, w.data()};
        std::vector<float> lin(static_cast<size_t>(c.m * c.n)), got(lin.size() + 1, NAN);
        MatMul(x.data(), c.m, c.k, wv, bias.data(), lin.data());
        MatMulGeluTanh(x.data(), c.m, c.k, wv, bias.data(), got.data());
        ASSERT_TRUE(std::isnan(got.back())) << "wrote past the output";
        std::vector<float> want = lin;
        ref::GeluTanh(want.data(), static_cast<int64_t>(want.size()));
        for (size_t i = 0; i < lin.size(); ++i)
          // The vector exp is within ~2e-6 relative of std::exp over the GELU's range (more at
          // the large arguments of v < -4, where gelu(v) is below 1e-6 |v|).
          ASSERT_NEAR(got[i], want[i], 1e-5 * std::fabs(want[i]) + 1e-12 * std::fabs(lin[i]) + 1e-30)
              << IsaName(table->isa) << " " << MatMulPrecisionName(precision) << " m=" << c.m
              << " k=" << c.k << " n=" << c.n << " at " << i << " (linear " << lin[i] << ")";
      }
    }
  }
  SetMatMulPrecision(MatMulPrecision::kHigh);
  SetActive(saved.isa);
}

}  // namespace
}  // namespace dsvl2::kernels
