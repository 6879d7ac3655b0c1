#include "lm/ffn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/kernels.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/ops.h"

namespace dsvl2 {

void SwiGlu::Bind(const std::string& prefix, int64_t hidden, int64_t inter, WeightBinder* b) {
  hidden_ = hidden;
  inter_ = inter;
  gate_ = b->Matrix(prefix + "gate_proj.weight", {inter, hidden});
  up_ = b->Matrix(prefix + "up_proj.weight", {inter, hidden});
  down_ = b->Matrix(prefix + "down_proj.weight", {hidden, inter});
}

void SwiGlu::VisitWeights(const std::function<void(const TensorView&)>& fn) const {
  fn(gate_);
  fn(up_);
  fn(down_);
}

void SwiGlu::Forward(const float* x, int64_t t, float* y) const {
  Tensor g({t, inter_});
  kernels::SwiGlu(x, t, hidden_, gate_, up_, g.data());  // silu(gate(x)) * up(x)
  kernels::MatMul(g.data(), t, inter_, down_, nullptr, y);
}

void MoeLayer::Bind(const LanguageConfig& cfg, int layer, WeightBinder* b) {
  cfg_ = cfg;
  const std::string pre = "language.model.layers." + std::to_string(layer) + ".mlp.";
  const int64_t d = cfg.hidden_size, e = cfg.n_routed_experts;
  gate_ = b->Matrix(pre + "gate.weight", {e, d});
  if (cfg.topk_method == "noaux_tc") score_bias_ = b->Vector(pre + "gate.e_score_correction_bias", {e});
  experts_.resize(static_cast<size_t>(e));
  for (int64_t i = 0; i < e; ++i)
    experts_[static_cast<size_t>(i)].Bind(pre + "experts." + std::to_string(i) + ".", d,
                                          cfg.moe_intermediate_size, b);
  has_shared_ = cfg.n_shared_experts > 0;
  if (has_shared_)
    shared_.Bind(pre + "shared_experts.", d,
                 static_cast<int64_t>(cfg.moe_intermediate_size) * cfg.n_shared_experts, b);
}

void MoeLayer::VisitRouter(const std::function<void(const TensorView&)>& fn) const {
  fn(gate_);
  if (!score_bias_.empty()) fn(VectorView(score_bias_));
}

void MoeLayer::VisitExpert(int e, const std::function<void(const TensorView&)>& fn) const {
  experts_[static_cast<size_t>(e)].VisitWeights(fn);
}

void MoeLayer::VisitShared(const std::function<void(const TensorView&)>& fn) const {
  if (has_shared_) shared_.VisitWeights(fn);
}

namespace {
// Indices of the k largest values (ties: lower index first).
std::vector<int> TopK(const std::vector<float>& v, int k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(static_cast<size_t>(k));
  return idx;
}
}  // namespace

Routing MoeLayer::Route(const float* logits) const {
  const int e = cfg_.n_routed_experts, k = cfg_.num_experts_per_tok;
  std::vector<float> scores(logits, logits + e);
  if (cfg_.scoring_func == "softmax") {
    kernels::Softmax(scores.data(), e);
  } else {  // sigmoid
    for (float& s : scores) s = 1.0f / (1.0f + std::exp(-s));
  }
  Routing r;
  if (cfg_.topk_method == "greedy") {
    r.experts = TopK(scores, k);
  } else {
    // group_limited_greedy: group score = max of the group's scores.
    // noaux_tc: choice = scores + bias; group score = sum of the group's top-2 choices.
    std::vector<float> choice = scores;
    if (cfg_.topk_method == "noaux_tc")
      for (int i = 0; i < e; ++i) choice[i] += score_bias_[static_cast<size_t>(i)];
    const int groups = cfg_.n_group, per = e / groups;
    std::vector<float> group_score(static_cast<size_t>(groups));
    for (int g = 0; g < groups; ++g) {
      std::vector<float> part(choice.begin() + g * per, choice.begin() + (g + 1) * per);
      if (cfg_.topk_method == "noaux_tc") {
        std::vector<int> top2 = TopK(part, std::min(2, per));
        float s = 0;
        for (int i : top2) s += part[static_cast<size_t>(i)];
        group_score[static_cast<size_t>(g)] = s;
      } else {
        group_score[static_cast<size_t>(g)] = *std::max_element(part.begin(), part.end());
      }
    }
    std::vector<int> keep = TopK(group_score, cfg_.topk_group);
    // Experts outside the chosen groups are masked to 0.0 (masked_fill(~mask, 0.0)), not -inf.
    std::vector<float> masked(static_cast<size_t>(e), 0.0f);
    for (int g : keep)
      for (int i = g * per; i < (g + 1) * per; ++i) masked[static_cast<size_t>(i)] = choice[static_cast<size_t>(i)];
    r.experts = TopK(masked, k);
  }
  for (int i : r.experts) r.weights.push_back(scores[static_cast<size_t>(i)]);
  if (k > 1 && cfg_.norm_topk_prob) {
    float sum = 0;
    for (float w : r.weights) sum += w;
    const float denom = sum + 1e-20f;
    for (float& w : r.weights) w = w / denom * static_cast<float>(cfg_.routed_scaling_factor);
  } else {
    for (float& w : r.weights) w *= static_cast<float>(cfg_.routed_scaling_factor);
  }
  return r;
}

namespace {
// Whether an MLP can join RunBatched: gate and up both float or both block-quantized.
bool Batchable(const SwiGlu& mlp) { return IsQuantized(mlp.gate().dtype) == IsQuantized(mlp.up().dtype); }
}  // namespace

void MoeLayer::RunBatched(const std::vector<Job>& jobs, int64_t hidden) {
  if (jobs.empty()) return;
  const kernels::KernelTable& kt = kernels::Active();
  constexpr int64_t kCols = 16;  // columns per work unit
  // Work units: blocks of kCols columns of every job's output, numbered job after job. A unit of
  // a job with r rows costs about kUnitBase + r (streaming its weight block, plus one row of dot
  // products per input row), so threads take contiguous ranges of equal cost, not of equal
  // count: with 1 to 5 rows per expert an even count split leaves one thread waiting.
  constexpr double kUnitBase = 2.0;
  const int threads = ThreadPool::Global().num_threads();
  std::vector<int64_t> first(jobs.size() + 1, 0), cut(static_cast<size_t>(threads) + 1, 0);
  std::vector<double> cost_first(jobs.size() + 1, 0.0);
  auto run = [&](auto cols_of, auto body) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      const int64_t units = (cols_of(jobs[i]) + kCols - 1) / kCols;
      first[i + 1] = first[i] + units;
      cost_first[i + 1] = cost_first[i] + static_cast<double>(units) * (kUnitBase + static_cast<double>(jobs[i].rows));
    }
    size_t j = 0;
    for (int p = 1; p < threads; ++p) {
      const double target = cost_first.back() * p / threads;
      while (j + 1 < jobs.size() && cost_first[j + 1] <= target) ++j;
      const double unit_cost = kUnitBase + static_cast<double>(jobs[j].rows);
      const int64_t u = first[j] + static_cast<int64_t>((target - cost_first[j]) / unit_cost);
      cut[static_cast<size_t>(p)] = std::clamp(u, cut[static_cast<size_t>(p) - 1], first.back());
    }
    cut[static_cast<size_t>(threads)] = first.back();
    ThreadPool::Global().ParallelFor(threads, 1, [&](int64_t p0, int64_t p1) {
      const int64_t u0 = cut[static_cast<size_t>(p0)], u1 = cut[static_cast<size_t>(p1)];
      if (u0 >= u1) return;
      // One call per job over this thread's contiguous units of it (kernels prepare their
      // inputs once per call, e.g. the bf16 rows of the few-row products).
      size_t jj = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), u0) - first.begin() - 1);
      for (int64_t u = u0; u < u1; ++jj) {
        while (u >= first[jj + 1]) ++jj;
        const int64_t end = std::min(u1, first[jj + 1]);
        body(jj, (u - first[jj]) * kCols, std::min(cols_of(jobs[jj]), (end - first[jj]) * kCols));
        u = end;
      }
    });
  };
  // Block-quantized products read inputs quantized once per job (few rows: on this thread).
  // (The pool's threads must see this thread's buffers: name them through references.)
  thread_local std::vector<kernels::QuantActs> xq_buf, hq_buf;
  std::vector<kernels::QuantActs>& xq = xq_buf;
  std::vector<kernels::QuantActs>& hq = hq_buf;
  if (xq.size() < jobs.size()) xq.resize(jobs.size());
  if (hq.size() < jobs.size()) hq.resize(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j)
    if (IsQuantized(jobs[j].mlp->gate().dtype))
      kt.quantize_acts(jobs[j].x, jobs[j].rows, hidden, jobs[j].mlp->gate().dtype, &xq[j]);
  // h = silu(gate(x)) * up(x) for every job, then out = down(h).
  run([](const Job& jb) { return jb.mlp->inter(); },
      [&](size_t j, int64_t c0, int64_t c1) {
        const Job& jb = jobs[j];
        if (IsQuantized(jb.mlp->gate().dtype))
          kernels::SwiGluQCols(kt, xq[j], jb.mlp->gate(), jb.mlp->up(), c0, c1, jb.h);
        else
          kernels::SwiGluCols(jb.x, jb.rows, hidden, jb.mlp->gate(), jb.mlp->up(), c0, c1, jb.h);
      });
  for (size_t j = 0; j < jobs.size(); ++j)
    if (IsQuantized(jobs[j].mlp->down().dtype))
      kt.quantize_acts(jobs[j].h, jobs[j].rows, jobs[j].mlp->inter(), jobs[j].mlp->down().dtype, &hq[j]);
  run([&](const Job&) { return hidden; },
      [&](size_t j, int64_t c0, int64_t c1) {
        const Job& jb = jobs[j];
        if (IsQuantized(jb.mlp->down().dtype))
          kt.matmul_q_cols(hq[j], jb.mlp->down(), c0, c1, jb.out);
        else
          kernels::MatMulCols(jb.h, jb.rows, jb.mlp->inter(), jb.mlp->down(), c0, c1, jb.out);
      });
}

void MoeLayer::Forward(const Tensor& x, Tensor* y, std::vector<Routing>* routing) const {
  const int64_t t = x.dim(0), d = x.dim(1), e = cfg_.n_routed_experts;
  // Router in float32.
  Tensor logits({t, e});
  kernels::MatMul(x.data(), t, d, gate_, nullptr, logits.data());
  std::vector<Routing> routes(static_cast<size_t>(t));
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert(static_cast<size_t>(e));
  for (int64_t i = 0; i < t; ++i) {
    routes[static_cast<size_t>(i)] = Route(logits.row(i));
    const Routing& r = routes[static_cast<size_t>(i)];
    for (size_t j = 0; j < r.experts.size(); ++j)
      by_expert[static_cast<size_t>(r.experts[j])].push_back({i, r.weights[j]});
  }
  // Each expert runs once over the tokens routed to it. Experts with many tokens run as GEMMs one
  // after another; the rest (all of them in decode) together with the shared experts, if they
  // also see few rows, run as one batch of jobs (RunBatched). The weighted sum is in float32, in
  // expert order, then the shared experts' output is added.
  // Block-quantized experts join the batch too (their inputs quantized once per job); an MLP with
  // one float and one quantized gate/up matrix takes the per-expert path.
  // (Fewer where the kernels take their many-row form earlier: bf16 at medium precision on
  // AVX-512-BF16, kernels::GemmMinRows.)
  constexpr int64_t kMany = 16;
  const kernels::KernelTable& kt = kernels::Active();
  auto is_small = [&](int64_t ex, int64_t n) {
    const SwiGlu& mlp = experts_[static_cast<size_t>(ex)];
    return n > 0 && n < std::min(kMany, kernels::GemmMinRows(kt, mlp.gate().dtype)) && Batchable(mlp);
  };
  int64_t small_rows = 0, small_h = 0;
  for (int64_t ex = 0; ex < e; ++ex) {
    const int64_t n = static_cast<int64_t>(by_expert[static_cast<size_t>(ex)].size());
    if (is_small(ex, n)) {
      small_rows += n;
      small_h += n * experts_[static_cast<size_t>(ex)].inter();
    }
  }
  const bool shared_small = has_shared_ && t < kMany && Batchable(shared_);
  if (shared_small) small_h += t * shared_.inter();
  // Scratch reused across calls (no allocation or zero-filling per decode step).
  thread_local std::vector<float> xin_buf, h_buf, xout_buf;
  auto scratch = [](std::vector<float>& v, int64_t n) {
    if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
    return v.data();
  };
  float* const xin = scratch(xin_buf, small_rows * d);
  float* const hbuf = scratch(h_buf, std::max<int64_t>(small_h, 1));
  float* const xout = scratch(xout_buf, (small_rows + (shared_small ? t : 0)) * d);
  std::vector<Job> jobs;
  std::vector<int64_t> out_row(static_cast<size_t>(e), -1);
  int64_t row = 0, hoff = 0;
  for (int64_t ex = 0; ex < e; ++ex) {
    const auto& toks = by_expert[static_cast<size_t>(ex)];
    const int64_t n = static_cast<int64_t>(toks.size());
    if (!is_small(ex, n)) continue;
    for (int64_t j = 0; j < n; ++j) std::copy(x.row(toks[j].first), x.row(toks[j].first) + d, xin + (row + j) * d);
    const SwiGlu& mlp = experts_[static_cast<size_t>(ex)];
    jobs.push_back({&mlp, xin + row * d, n, hbuf + hoff, xout + row * d});
    out_row[static_cast<size_t>(ex)] = row;
    row += n;
    hoff += n * mlp.inter();
  }
  if (shared_small) jobs.push_back({&shared_, x.data(), t, hbuf + hoff, xout + small_rows * d});
  RunBatched(jobs, d);

  y->Resize({t, d});
  std::fill(y->data(), y->data() + t * d, 0.0f);
  Tensor big_in, big_out;
  for (int64_t ex = 0; ex < e; ++ex) {
    const auto& toks = by_expert[static_cast<size_t>(ex)];
    if (toks.empty()) continue;
    const int64_t n = static_cast<int64_t>(toks.size());
    const float* out;
    if (is_small(ex, n)) {
      out = xout + out_row[static_cast<size_t>(ex)] * d;
    } else {
      big_in.Resize({n, d});
      big_out.Resize({n, d});
      for (int64_t j = 0; j < n; ++j) std::copy(x.row(toks[j].first), x.row(toks[j].first) + d, big_in.row(j));
      experts_[static_cast<size_t>(ex)].Forward(big_in.data(), n, big_out.data());
      out = big_out.data();
    }
    for (int64_t j = 0; j < n; ++j) kernels::Axpy(toks[j].second, out + j * d, d, y->row(toks[j].first));
  }
  if (has_shared_) {
    if (shared_small) {
      kernels::Add(xout + small_rows * d, t * d, y->data());
    } else {
      Tensor s({t, d});
      shared_.Forward(x.data(), t, s.data());
      kernels::Add(s.data(), t * d, y->data());
    }
  }
  if (routing) *routing = std::move(routes);
}

}  // namespace dsvl2
