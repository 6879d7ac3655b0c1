// The AVX-512-BF16 GEMMs for MatMulPrecision::kMedium without AMX (cpu/gemm_bf16_avx512.cc, packed;
// cpu/gemm_bf16_small_avx512.cc, few rows, weights read in place; cpu/matmul_bf16_rows_avx512.cc,
// 2..15 rows as dot products along k) against a double-precision product of the bf16-rounded
// activations and the bf16 weights, over sizes that hit every edge: input rows not a multiple of
// the 14-row (packed), 16 / 32-row (few-row) or 3-row (dot-rows) tiles, output columns not a
// multiple of 8, 14, 16 or 32, k odd (a zero-padded last pair / an f32 last element / a masked
// tail), k % 32 != 0 (the scalar pack tails), k spanning several 512-deep blocks and m spanning two
// ~16 MiB chunks of packed x. Then the AVX-512 table's routing: medium sends bf16 weights with
// 2..15 rows to the dot-rows kernel, from 16 rows to the few-row (transposed) kernel while the
// bf16 activations fit its cache budget and to the packed one beyond (and the column-range /
// SwiGLU forms to the dot-rows kernel from 2 rows); high and every other dtype or 1 row keep the
// f32 kernels. Skipped where the CPU has no AVX-512-BF16.
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

struct Case {
  int64_t m, k, n;
};

using GemmFn = void (*)(const float*, int64_t, int64_t, const TensorView&, const float*, float*);
struct Kernel {
  const char* name;
  GemmFn fn;
  int64_t max_rows;  // the rows it is used for (and tested with here)
};
const Kernel kKernels[] = {{"packed", &cpu::GemmAvx512Bf16, int64_t{1} << 40},
                           {"few-row", &cpu::GemmAvx512Bf16Small, int64_t{1} << 40},
                           {"dot-rows", &cpu::MatMulBf16RowsAvx512, cpu::kBf16SmallMinRows - 1}};

const KernelTable* Avx512Table() { return testing::SupportedTable(Isa::kAvx512); }

TEST(Bf16Gemm, MatchesDoubleOfRoundedActivations) {
  if (!Avx512Table() || !cpu::Avx512Bf16Usable()) GTEST_SKIP() << "no AVX-512-BF16 on this CPU";
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> expo(-6.0f, 6.0f);
  const Case cases[] = {{1, 2, 1},      {2, 31, 9},     {3, 1280, 19},  {5, 97, 8},
                        {7, 4304, 13},  {11, 63, 40},   {13, 1, 3},     {14, 32, 32},
                        {15, 33, 17},   {29, 31, 33},
                        {32, 64, 31},   {40, 257, 65},  {57, 300, 97},  {33, 1152, 40},
                        {70, 513, 257}, {28, 4304, 45}, {600, 16000, 8}};  // two chunks of packed x
  for (const Case& c : cases) {
    std::vector<uint16_t> w(static_cast<size_t>(c.n * c.k));
    for (auto& v : w) v = F32ToBf16(nd(rng));
    std::vector<float> x(static_cast<size_t>(c.m * c.k)), bias(static_cast<size_t>(c.n));
    for (float& v : x) v = nd(rng) * std::exp2(expo(rng));
    for (float& v : bias) v = nd(rng);
    const TensorView wv{DType::kBF16, {c.n, c.k}, w.data()};
    for (const Kernel& kn : kKernels) {
      if (c.m > kn.max_rows) continue;
      // One guard row past m: nothing may be written there.
      std::vector<float> y(static_cast<size_t>((c.m + 1) * c.n), NAN);
      kn.fn(x.data(), c.m, c.k, wv, bias.data(), y.data());
      for (int64_t j = 0; j < c.n; ++j)
        ASSERT_TRUE(std::isnan(y[static_cast<size_t>(c.m * c.n + j)]))
            << kn.name << " wrote past m";
      double worst_vs_f32 = 0;
      for (int64_t i = 0; i < c.m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
          double want = bias[static_cast<size_t>(j)], exact = want, mag = 0;
          for (int64_t q = 0; q < c.k; ++q) {
            const float xv = x[static_cast<size_t>(i * c.k + q)];
            const double wq = Bf16ToF32(w[static_cast<size_t>(j * c.k + q)]);
            const double p = static_cast<double>(Bf16ToF32(F32ToBf16(xv))) * wq;
            want += p;
            exact += static_cast<double>(xv) * wq;
            mag += std::fabs(p);
          }
          const double got = y[static_cast<size_t>(i * c.n + j)];
          // The rounded activations are the whole difference from the exact product: what is left
          // is f32 accumulation (k products, pairs summed in f32) and the final bias add.
          const double bound = static_cast<double>(c.k + 4) * std::exp2(-23.0) * mag +
                               std::fabs(want) * std::exp2(-22.0) + 1e-30;
          ASSERT_LE(std::fabs(got - want), bound)
              << kn.name << " m=" << c.m << " k=" << c.k << " n=" << c.n << " at " << i << "," << j;
          worst_vs_f32 = std::max(worst_vs_f32, std::fabs(got - exact) / (mag + 1e-30));
        }
      // And it did round the activations (bf16 keeps 8 significant bits): far from f32 accuracy.
      if (c.k >= 32) {
        EXPECT_GT(worst_vs_f32, 1e-4) << kn.name << " m=" << c.m << " k=" << c.k;
      }
    }
  }
}

// Small integers are exact in bf16 and their products' sums exact in f32, so the kernel must give
// them bit for bit: catches a wrong pairing of k elements between packed weights and activations
// or a lost odd tail, which random data would hide inside the rounding bound.
TEST(Bf16Gemm, PairsLineUpExactly) {
  if (!Avx512Table() || !cpu::Avx512Bf16Usable()) GTEST_SKIP() << "no AVX-512-BF16 on this CPU";
  for (int64_t k : {2, 7, 32, 33, 63, 256, 300}) {
    const int64_t m = 17, n = 35;  // (the dot-rows kernel takes the first 15 rows)
    std::vector<uint16_t> w(static_cast<size_t>(n * k));
    std::vector<float> x(static_cast<size_t>(m * k));
    for (int64_t j = 0; j < n; ++j)
      for (int64_t q = 0; q < k; ++q)
        w[static_cast<size_t>(j * k + q)] =
            F32ToBf16(static_cast<float>((j * 7 + q * 3) % 11) - 5.0f);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t q = 0; q < k; ++q)
        x[static_cast<size_t>(i * k + q)] = static_cast<float>((i * 5 + q) % 13) - 6.0f;
    for (const Kernel& kn : kKernels) {
      const int64_t mk = std::min(m, kn.max_rows);
      std::vector<float> y(static_cast<size_t>(mk * n));
      kn.fn(x.data(), mk, k, TensorView{DType::kBF16, {n, k}, w.data()}, nullptr, y.data());
      for (int64_t i = 0; i < mk; ++i)
        for (int64_t j = 0; j < n; ++j) {
          int64_t want = 0;
          for (int64_t q = 0; q < k; ++q)
            want += ((j * 7 + q * 3) % 11 - 5) * ((i * 5 + q) % 13 - 6);
          ASSERT_EQ(y[static_cast<size_t>(i * n + j)], static_cast<float>(want))
              << kn.name << " k=" << k << " at " << i << "," << j;
        }
    }
  }
}

// The dot-rows kernel's column-range and SwiGLU forms (the pieces MoeLayer::RunBatched hands out)
// against its whole product, which the tests above hold to the double product: each output is
// one fixed sum whatever the tile shape, so they agree bit for bit (SwiGLU: with SiluMulAvx512's
// vector silu, which kernels_test holds to the double function), and nothing outside the column
// range is written.
TEST(Bf16Gemm, DotRowsColumnsAndSwiGluMatchTheProduct) {
  if (!Avx512Table() || !cpu::Avx512Bf16Usable()) GTEST_SKIP() << "no AVX-512-BF16 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 37;
  for (int64_t k : {33, 1280})
    for (int64_t m : {2, 3, 5, 15, 16, 40}) {
      const std::vector<uint16_t> wg = testing::RandomBf16(n * k, rng, nd);
      const std::vector<uint16_t> wu = testing::RandomBf16(n * k, rng, nd);
      std::vector<float> x(static_cast<size_t>(m * k));
      for (float& v : x) v = nd(rng);
      const TensorView g{DType::kBF16, {n, k}, wg.data()}, u{DType::kBF16, {n, k}, wu.data()};
      std::vector<float> yg(static_cast<size_t>(m * n)), yu(yg.size());
      cpu::MatMulBf16RowsAvx512(x.data(), m, k, g, nullptr, yg.data());
      cpu::MatMulBf16RowsAvx512(x.data(), m, k, u, nullptr, yu.data());
      const int64_t j0 = 3, j1 = 30;
      // silu(gate) * up as the kernel does it: SiluMulAvx512's vector expression (padded to whole
      // vectors, so no element takes its scalar tail).
      const size_t padded = (yg.size() + 15) / 16 * 16;
      std::vector<float> pg(yg), pu(yu), want_swi(padded);
      pg.resize(padded, 0.0f);
      pu.resize(padded, 0.0f);
      cpu::SiluMulAvx512(pg.data(), pu.data(), static_cast<int64_t>(padded), want_swi.data());
      std::vector<float> cols(yg.size(), NAN), swi(yg.size(), NAN);
      cpu::MatMulColsBf16RowsAvx512(x.data(), m, k, g, j0, j1, cols.data());
      cpu::SwiGluColsBf16RowsAvx512(x.data(), m, k, g, u, j0, j1, swi.data());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const size_t at = static_cast<size_t>(i * n + j);
          if (j < j0 || j >= j1) {
            ASSERT_TRUE(std::isnan(cols[at]) && std::isnan(swi[at])) << "wrote column " << j;
            continue;
          }
          ASSERT_EQ(cols[at], yg[at]) << "m=" << m << " k=" << k << " at " << i << "," << j;
          ASSERT_EQ(swi[at], want_swi[at]) << "m=" << m << " k=" << k << " at " << i << "," << j;
        }
    }
}

// The fused many-row SwiGLU of the transposed kernel against its two products: each output is the
// same fixed sum whatever the output stride (bit for bit), then SiluMulAvx512's vector silu (padded
// to whole vectors, as the kernel applies it masked per group); kernels::SwiGlu takes it at
// medium from kBf16SmallMinRows rows, and not at high.
TEST(Bf16Gemm, FusedSwiGluMatchesTheTwoProducts) {
  const KernelTable* avx512 = Avx512Table();
  if (!avx512 || !cpu::Avx512Bf16Usable()) GTEST_SKIP() << "no AVX-512-BF16 on this CPU";
  cpu::SetAvx512Bf16PreferredForTest(1);  // the table's medium routing, as where vdpbf16ps is fast
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 37;  // groups of 14, 14, 9 columns
  for (int64_t k : {33, 320})
    for (int64_t m : {cpu::kBf16SmallMinRows, int64_t{16}, int64_t{17}, int64_t{33}, int64_t{64}}) {
      const std::vector<uint16_t> wg = testing::RandomBf16(n * k, rng, nd);
      const std::vector<uint16_t> wu = testing::RandomBf16(n * k, rng, nd);
      std::vector<float> x(static_cast<size_t>(m * k));
      for (float& v : x) v = nd(rng);
      const TensorView g{DType::kBF16, {n, k}, wg.data()}, u{DType::kBF16, {n, k}, wu.data()};
      const size_t padded = static_cast<size_t>((m * n + 15) / 16 * 16);
      std::vector<float> yg(padded, 0.0f), yu(padded, 0.0f), want(padded);
      cpu::GemmAvx512Bf16Small(x.data(), m, k, g, nullptr, yg.data());
      cpu::GemmAvx512Bf16Small(x.data(), m, k, u, nullptr, yu.data());
      cpu::SiluMulAvx512(yg.data(), yu.data(), static_cast<int64_t>(padded), want.data());
      want.resize(static_cast<size_t>(m * n));
      std::vector<float> got(static_cast<size_t>(m * n), NAN);
      cpu::SwiGluAvx512Bf16Small(x.data(), m, k, g, u, got.data());
      ASSERT_EQ(got, want) << "m=" << m << " k=" << k;
      // Through the kernel table: fused at medium, the two-GEMM path at high.
      std::vector<float> viat(got.size(), NAN);
      SetMatMulPrecision(MatMulPrecision::kMedium);
      SwiGluWith(*avx512, x.data(), m, k, g, u, viat.data());
      SetMatMulPrecision(MatMulPrecision::kHigh);
      EXPECT_EQ(viat, want) << "m=" << m << " k=" << k;
      // High precision: f32 activations, the f32 transposed kernel (f32_small_gemm_test) from
      // kF32SmallMinRows rows.
      EXPECT_EQ(cpu::SwiGluManyAvx512(x.data(), m, k, g, u, viat.data()), cpu::F32SmallChosen(m, k))
          << "high precision, m=" << m;
    }
  SetMatMulPrecision(MatMulPrecision::kMedium);
  std::vector<float> x(static_cast<size_t>(11 * 64), 1.0f), out(11 * 8);
  std::vector<uint16_t> w(8 * 64, F32ToBf16(0.5f));
  const TensorView wv{DType::kBF16, {8, 64}, w.data()};
  EXPECT_FALSE(cpu::SwiGluManyAvx512(x.data(), cpu::kBf16SmallMinRows - 1, 64, wv, wv, out.data()))
      << "below kBf16SmallMinRows: the few-row path";
  cpu::SetAvx512Bf16PreferredForTest(0);
  EXPECT_FALSE(cpu::SwiGluManyAvx512(x.data(), cpu::kBf16SmallMinRows, 64, wv, wv, out.data()))
      << "medium where vdpbf16ps is not faster than the f32 FMA: the f32 kernels";
  cpu::SetAvx512Bf16PreferredForTest(-1);
  SetMatMulPrecision(MatMulPrecision::kHigh);
}

TEST(Bf16Gemm, MediumPrecisionRoutesBf16GemmsHere) {
  const KernelTable* avx512 = Avx512Table();
  if (!avx512 || !cpu::Avx512Bf16Usable()) GTEST_SKIP() << "no AVX-512-BF16 on this CPU";
  ASSERT_EQ(GetMatMulPrecision(), MatMulPrecision::kHigh) << "the default";
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t k = 320, n = 48;
  // The most rows whose bf16 activations fit the transposed kernel's budget.
  const int64_t kSmallMaxRows = cpu::kBf16SmallMaxXBytes / (2 * k);
  ASSERT_TRUE(cpu::Bf16SmallFits(kSmallMaxRows, k) && !cpu::Bf16SmallFits(kSmallMaxRows + 1, k));
  // Both answers of Avx512Bf16Preferred (vdpbf16ps faster than the f32 FMA or not: measured on
  // first use; forced here).
  for (int preferred : {1, 0}) {
  cpu::SetAvx512Bf16PreferredForTest(preferred);
  for (DType dt : {DType::kBF16, DType::kF16, DType::kF32}) {
    for (int64_t m :
         {int64_t{1}, cpu::kBf16RowsMinRows, cpu::kBf16SmallMinRows - 1, cpu::kBf16SmallMinRows,
          cpu::kGemmMinRows, cpu::kGemmMinRowsAvx512Bf16 - 1, cpu::kGemmMinRowsAvx512Bf16,
          int64_t{300}, kSmallMaxRows, kSmallMaxRows + 1}) {
      std::vector<float> wf(static_cast<size_t>(n * k)), x(static_cast<size_t>(m * k));
      for (float& v : wf) v = nd(rng);
      for (float& v : x) v = nd(rng);
      std::vector<uint16_t> wh(wf.size());
      for (size_t i = 0; i < wf.size(); ++i)
        wh[i] = dt == DType::kBF16 ? F32ToBf16(wf[i]) : F32ToF16(wf[i]);
      const TensorView wv{
          dt, {n, k}, dt == DType::kF32 ? static_cast<const void*>(wf.data()) : wh.data()};
      auto run = [&](auto fn) {
        std::vector<float> y(static_cast<size_t>(m * n));
        fn(y.data());
        return y;
      };
      // The whole product, its column-range form and the fused SwiGLU columns (gate = up = w).
      auto all3 = [&] {
        std::vector<float> y(static_cast<size_t>(3 * m * n));
        avx512->matmul(x.data(), m, k, wv, nullptr, y.data());
        avx512->matmul_cols(x.data(), m, k, wv, 0, n, y.data() + m * n);
        avx512->swiglu_cols(x.data(), m, k, wv, wv, 0, n, y.data() + 2 * m * n);
        return y;
      };
      const auto high3 = all3();
      SetMatMulPrecision(MatMulPrecision::kMedium);
      const auto medium3 = all3();
      SetMatMulPrecision(MatMulPrecision::kHigh);
      const std::vector<float> high(high3.begin(), high3.begin() + m * n);
      const std::vector<float> medium(medium3.begin(), medium3.begin() + m * n);
      const bool rounds = preferred == 1 && dt == DType::kBF16 && m >= cpu::kBf16RowsMinRows;
      // The column-range forms (few-row MoE experts) take the dot-rows kernel for any rows but 1.
      if (rounds) {
        std::vector<float> want(static_cast<size_t>(2 * m * n));
        cpu::MatMulColsBf16RowsAvx512(x.data(), m, k, wv, 0, n, want.data());
        cpu::SwiGluColsBf16RowsAvx512(x.data(), m, k, wv, wv, 0, n, want.data() + m * n);
        EXPECT_TRUE(std::equal(want.begin(), want.end(), medium3.begin() + m * n)) << "m=" << m;
      } else {
        EXPECT_EQ(medium3, high3) << DTypeName(dt) << " m=" << m;
      }
      if (rounds) {
        const GemmFn want = m < cpu::kBf16SmallMinRows    ? &cpu::MatMulBf16RowsAvx512
                            : m <= kSmallMaxRows          ? &cpu::GemmAvx512Bf16Small
                                                          : &cpu::GemmAvx512Bf16;
        EXPECT_EQ(medium, run([&](float* y) { want(x.data(), m, k, wv, nullptr, y); }))
            << "m=" << m;
        // High precision: f32 activations; the f32 transposed kernel where F32SmallChosen, else the packed GEMM from kGemmMinRowsAvx512Bf16 rows, the dot-rows below.
        EXPECT_EQ(high, run([&](float* y) {
                    if (cpu::F32SmallChosen(m, k))
                      cpu::GemmAvx512Bf16F32Small(x.data(), m, k, wv, nullptr, y);
                    else if (m >= cpu::kGemmMinRowsAvx512Bf16)
                      cpu::GemmAvx512(x.data(), m, k, wv, nullptr, y);
                    else
                      cpu::MatMulBf16RowsF32Avx512(x.data(), m, k, wv, nullptr, y);
                  }))
            << "m=" << m;
        EXPECT_NE(medium, high) << "m=" << m;
      } else {
        EXPECT_EQ(medium, high) << DTypeName(dt) << " m=" << m << " preferred=" << preferred;
      }
    }
  }
  EXPECT_EQ(MediumPrecisionChangesResults(*avx512), preferred == 1);
  }
  cpu::SetAvx512Bf16PreferredForTest(-1);
}

}  // namespace
}  // namespace dsvl2::kernels
