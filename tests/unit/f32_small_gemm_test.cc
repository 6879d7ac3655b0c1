// The transposed AVX-512 product of bf16 (or f32) weights and f32 activations (cpu/gemm_bf16_f32_
// small_avx512.cc: MatMulPrecision::kHigh where F32SmallChosen: 16-47 rows, or up to 128 with
// k >= 256, while the packed x fits;
// f32 weights of the same values give the same bits) against a
// double-precision product, over sizes that hit every edge: rows a multiple of 16 or 32, up to
// kDotMaxRows past one (remainder rows as dot products) and more (a partial 16-row tile); k odd,
// below 32, not a multiple of 32 (zero-padded last block) and spanning several 256-deep converted
// blocks; output columns not a multiple of the 14-row weight groups; bias or none. Then exact
// small-integer sums (a wrong k order between the converted weights and the packed activations
// would show), the fused SwiGLU against its two products bit for bit, and the AVX-512 table's
// routing at high precision. Skipped where the CPU has no AVX-512 table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace dsvl2::kernels {
namespace {

const KernelTable* Avx512Table() { return testing::SupportedTable(Isa::kAvx512); }

TEST(F32SmallGemm, MatchesDoubleProduct) {
  if (!Avx512Table()) GTEST_SKIP() << "no AVX-512 table on this CPU";
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> expo(-6.0f, 6.0f);
  struct Case {
    int64_t m, k, n;
    bool bias;
  };
  const Case cases[] = {{16, 1, 1, true},      {17, 31, 13, false},  {23, 37, 14, true},
                        {24, 100, 15, true},   {25, 257, 29, false}, {31, 64, 45, true},
                        {32, 513, 28, true},   {33, 300, 14, false}, {40, 1280, 17, true},
                        {47, 33, 43, true},    {48, 256, 70, false}, {49, 1152, 19, true},
                        {64, 96, 31, true},    {100, 640, 27, true}, {120, 2, 9, false},
                        {56, 4304, 15, true}};
  for (const Case& c : cases) {
    const std::vector<uint16_t> w = testing::RandomBf16(c.n * c.k, rng, nd);
    std::vector<float> x(static_cast<size_t>(c.m * c.k)), bias(static_cast<size_t>(c.n));
    for (float& v : x) v = nd(rng) * std::exp2(expo(rng));
    for (float& v : bias) v = nd(rng);
    ASSERT_TRUE(cpu::F32SmallFits(c.m, c.k));
    // One guard row past m: nothing may be written there.
    std::vector<float> y(static_cast<size_t>((c.m + 1) * c.n), NAN);
    cpu::GemmAvx512Bf16F32Small(x.data(), c.m, c.k, TensorView{DType::kBF16, {c.n, c.k}, w.data()},
                                c.bias ? bias.data() : nullptr, y.data());
    for (int64_t j = 0; j < c.n; ++j)
      ASSERT_TRUE(std::isnan(y[static_cast<size_t>(c.m * c.n + j)])) << "wrote past m=" << c.m;
    // f32 weights holding the same values: the same sums, bit for bit.
    std::vector<float> wf(w.size()), yf(y.size(), NAN);
    for (size_t i = 0; i < w.size(); ++i) wf[i] = Bf16ToF32(w[i]);
    cpu::GemmAvx512Bf16F32Small(x.data(), c.m, c.k, TensorView{DType::kF32, {c.n, c.k}, wf.data()},
                                c.bias ? bias.data() : nullptr, yf.data());
    ASSERT_TRUE(std::equal(y.begin(), y.begin() + c.m * c.n, yf.begin()))
        << "f32 weights, m=" << c.m << " k=" << c.k << " n=" << c.n;
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double want = c.bias ? bias[static_cast<size_t>(j)] : 0.0, mag = std::fabs(want);
        for (int64_t q = 0; q < c.k; ++q) {
          const double p = static_cast<double>(x[static_cast<size_t>(i * c.k + q)]) *
                           Bf16ToF32(w[static_cast<size_t>(j * c.k + q)]);
          want += p;
          mag += std::fabs(p);
        }
        // f32 accumulation of k exact products (and of up to 16 partial sums) plus the bias.
        const double bound = static_cast<double>(c.k + 20) * std::exp2(-24.0) * mag + 1e-30;
        ASSERT_LE(std::fabs(y[static_cast<size_t>(i * c.n + j)] - want), bound)
            << "m=" << c.m << " k=" << c.k << " n=" << c.n << " at " << i << "," << j;
      }
  }
}

// Small integers: every product and partial sum is exact in f32, so any k misalignment between
// the converted weight block and the packed activations (tiles or remainder rows) changes a result.
TEST(F32SmallGemm, IntegerSumsAreExact) {
  if (!Avx512Table()) GTEST_SKIP() << "no AVX-512 table on this CPU";
  for (int64_t k : {1, 7, 32, 33, 255, 256, 257, 300, 513})
    for (int64_t m : {16, 19, 24, 25, 32, 41, 48, 57}) {
      const int64_t n = 31;
      std::vector<uint16_t> w(static_cast<size_t>(n * k));
      std::vector<float> x(static_cast<size_t>(m * k));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < k; ++q)
          w[static_cast<size_t>(j * k + q)] = F32ToBf16(static_cast<float>((j * 7 + q * 3) % 11) - 5.0f);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t q = 0; q < k; ++q)
          x[static_cast<size_t>(i * k + q)] = static_cast<float>((i * 5 + q) % 13) - 6.0f;
      std::vector<float> y(static_cast<size_t>(m * n));
      cpu::GemmAvx512Bf16F32Small(x.data(), m, k, TensorView{DType::kBF16, {n, k}, w.data()}, nullptr,
                                  y.data());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          int64_t want = 0;
          for (int64_t q = 0; q < k; ++q) want += ((j * 7 + q * 3) % 11 - 5) * ((i * 5 + q) % 13 - 6);
          ASSERT_EQ(y[static_cast<size_t>(i * n + j)], static_cast<float>(want))
              << "m=" << m << " k=" << k << " at " << i << "," << j;
        }
    }
}

// The fused SwiGLU against its two products: each output is the same fixed sum whatever the
// output stride, so bit for bit after SiluMulAvx512's vector silu (padded to whole vectors, as
// the kernel applies it per group); kernels::SwiGlu takes it at high precision where
// F32SmallChosen.
TEST(F32SmallGemm, FusedSwiGluMatchesTheTwoProducts) {
  const KernelTable* avx512 = Avx512Table();
  if (!avx512) GTEST_SKIP() << "no AVX-512 table on this CPU";
  ASSERT_EQ(GetMatMulPrecision(), MatMulPrecision::kHigh) << "the default";
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 37;  // groups of 14, 14, 9 columns
  for (int64_t k : {33, 320})
    for (int64_t m : {16, 17, 24, 30, 33, 64}) {
      const std::vector<uint16_t> wg = testing::RandomBf16(n * k, rng, nd);
      const std::vector<uint16_t> wu = testing::RandomBf16(n * k, rng, nd);
      std::vector<float> x(static_cast<size_t>(m * k));
      for (float& v : x) v = nd(rng);
      const TensorView g{DType::kBF16, {n, k}, wg.data()}, u{DType::kBF16, {n, k}, wu.data()};
      const size_t padded = static_cast<size_t>((m * n + 15) / 16 * 16);
      std::vector<float> yg(padded, 0.0f), yu(padded, 0.0f), want(padded);
      cpu::GemmAvx512Bf16F32Small(x.data(), m, k, g, nullptr, yg.data());
      cpu::GemmAvx512Bf16F32Small(x.data(), m, k, u, nullptr, yu.data());
      cpu::SiluMulAvx512(yg.data(), yu.data(), static_cast<int64_t>(padded), want.data());
      want.resize(static_cast<size_t>(m * n));
      std::vector<float> got(static_cast<size_t>(m * n), NAN);
      cpu::SwiGluAvx512Bf16F32Small(x.data(), m, k, g, u, got.data());
      ASSERT_EQ(got, want) << "m=" << m << " k=" << k;
      std::vector<float> viat(got.size(), NAN);
      if (cpu::F32SmallChosen(m, k)) {
        SwiGluWith(*avx512, x.data(), m, k, g, u, viat.data());
        EXPECT_EQ(viat, want) << "through the table, m=" << m << " k=" << k;
      } else {
        EXPECT_FALSE(cpu::SwiGluManyAvx512(x.data(), m, k, g, u, viat.data())) << "m=" << m << " k=" << k;
      }
    }
  std::vector<float> x(static_cast<size_t>(16 * 64), 1.0f), out(16 * 8);
  std::vector<uint16_t> w(8 * 64, F32ToBf16(0.5f));
  const TensorView wv{DType::kBF16, {8, 64}, w.data()};
  EXPECT_FALSE(cpu::SwiGluManyAvx512(x.data(), cpu::kF32SmallMinRows - 1, 64, wv, wv, out.data()))
      << "below kF32SmallMinRows: the few-row path";
}

// The packed-x budget: F32SmallFits is exact at its boundary (rows 0 mod 16 past a tile of 32,
// remainder rows as plain rows). Then the rule (F32SmallChosen) at each of its edges, and the
// table's bf16 and f32 products taking the kernel exactly there (the packed GEMM or the dot
// kernels elsewhere).
TEST(F32SmallGemm, HighPrecisionRoutesHereWhereChosen) {
  const KernelTable* avx512 = Avx512Table();
  if (!avx512) GTEST_SKIP() << "no AVX-512 table on this CPU";
  ASSERT_EQ(GetMatMulPrecision(), MatMulPrecision::kHigh) << "the default";
  for (int64_t k : {1024, 8192}) {  // kpad = k: 4 / 32 KiB per packed row
    for (int64_t m = 1; m < 2 * cpu::kF32SmallMaxXBytes / (4 * k); ++m) {
      // Tiles of 32 rows up to the last multiple of 16, then single rows if <= 8 remain.
      const int64_t tiled = m % 16 <= 8 ? m - m % 16 : m;
      const int64_t rows = (tiled + 31) / 32 * 32 + (m - tiled);
      ASSERT_EQ(cpu::F32SmallFits(m, k), rows * k * 4 <= cpu::kF32SmallMaxXBytes) << "m=" << m;
    }
  }
  struct Case {
    int64_t m, k;
    bool chosen;
  };
  const Case cases[] = {{cpu::kF32SmallMinRows - 1, 1024, false},
                        {cpu::kF32SmallMinRows, 64, true},
                        {cpu::kGemmMinRowsAvx512Bf16 - 1, 96, true},
                        {cpu::kGemmMinRowsAvx512Bf16, cpu::kF32SmallMinK - 1, false},
                        {cpu::kGemmMinRowsAvx512Bf16, cpu::kF32SmallMinK, true},
                        {cpu::kF32SmallMaxRows, 1024, true},
                        {cpu::kF32SmallMaxRows + 1, 1024, false},
                        {64, 8192, true},    // 64 packed rows of 32 KiB: the budget exactly
                        {65, 8192, false}};  // one more row past it
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 30;
  for (const Case& c : cases) {
    ASSERT_EQ(cpu::F32SmallChosen(c.m, c.k), c.chosen) << "m=" << c.m << " k=" << c.k;
    const std::vector<uint16_t> w = testing::RandomBf16(n * c.k, rng, nd);
    std::vector<float> wf(w.size());
    for (size_t i = 0; i < w.size(); ++i) wf[i] = Bf16ToF32(w[i]);
    const TensorView wv{DType::kBF16, {n, c.k}, w.data()}, wvf{DType::kF32, {n, c.k}, wf.data()};
    std::vector<float> x(static_cast<size_t>(c.m * c.k));
    for (float& v : x) v = nd(rng);
    std::vector<float> got(static_cast<size_t>(c.m * n)), want(got.size());
    avx512->matmul(x.data(), c.m, c.k, wv, nullptr, got.data());
    if (c.chosen)
      cpu::GemmAvx512Bf16F32Small(x.data(), c.m, c.k, wv, nullptr, want.data());
    else if (c.m >= cpu::kGemmMinRowsAvx512Bf16)
      cpu::GemmAvx512(x.data(), c.m, c.k, wv, nullptr, want.data());
    else
      cpu::MatMulBf16RowsF32Avx512(x.data(), c.m, c.k, wv, nullptr, want.data());
    EXPECT_EQ(got, want) << "m=" << c.m << " k=" << c.k;
    // f32 weights of the same values: the same kernel where chosen, so the same bits.
    if (c.chosen) {
      std::vector<float> got_f32(got.size());
      avx512->matmul(x.data(), c.m, c.k, wvf, nullptr, got_f32.data());
      EXPECT_EQ(got_f32, want) << "f32 weights, m=" << c.m << " k=" << c.k;
    }
  }
}

}  // namespace
}  // namespace dsvl2::kernels
