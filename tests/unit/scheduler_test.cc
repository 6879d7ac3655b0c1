// Continuous batching: many concurrent requests through the Scheduler each get exactly the
// tokens Engine::Run gives for them alone, whatever the prefill chunk size, with cancellation,
// a KV pool too small for everyone at once (waiting + preemption), and a bounded queue.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "io/image.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

struct Case {
  std::vector<Turn> turns;  // owns the images PreparedPrompt points to
  PreparedPrompt prompt;
  GenerationParams params;
  RunOutput ref;            // Engine::Run alone
};

struct Result {
  std::vector<int32_t> tokens;
  std::string text;
  bool done = false;
  FinishReason reason = FinishReason::kStop;
  std::string error;
  RequestUsage usage;
};

// Thread-safe collector of scheduler events.
class Collector {
 public:
  SchedulerCallback Callback(std::function<void(const SchedulerEvent&)> extra = nullptr) {
    return [this, extra](const SchedulerEvent& ev) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        Result& r = results_[ev.request_id];
        r.text += ev.text;
        if (ev.final) {
          r.done = true;
          r.reason = ev.finish_reason;
          r.error = ev.error;
          r.usage = ev.usage;
        } else {
          r.tokens.push_back(ev.token);
        }
      }
      if (extra) extra(ev);
    };
  }
  Result Get(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_[id];
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, Result> results_;
};

const char* kTexts[] = {
    "Hello!",
    "What is the capital of France? Answer in one word.",
    "Write a long story about a dragon who learns to paint, with many details about colours.",
    "1 2 3 4 5 6 7 8 9 10",
    "Describe this image.",
    "Translate to German: the cat sits on the mat.",
    "Why?",
    "List three fruits and three vegetables, separated by commas, no other words please.",
};
const char* kImages[] = {"describe_landscape_0.png", "tiny_image_0.png", "wide_strip_0.png",
                         "system_prompt_0.png"};

class SchedulerTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = testing::DataDir() + "/fixtures/" + GetParam();
    auto e = Engine::Load(dir_);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(*e);
  }

  // n different requests (every third with an image), with their Engine::Run reference.
  std::vector<std::unique_ptr<Case>> MakeCases(int n, int base_tokens = 6, bool images = true) {
    std::vector<std::unique_ptr<Case>> cases;
    for (int i = 0; i < n; ++i) {
      auto c = std::make_unique<Case>();
      Turn t;
      t.role = "user";
      t.content = kTexts[i % 8];
      if (images && i % 3 == 1) {
        auto img = LoadImageFile(dir_ + "/images/" + kImages[(i / 3) % 4]);
        EXPECT_TRUE(img.ok()) << img.status().message();
        t.images.push_back(std::move(*img));
        t.content = "<image>\n" + t.content;
      }
      if (i % 5 == 2) t.content += " " + std::to_string(i);
      c->turns.push_back(std::move(t));
      auto p = engine_->Prepare(c->turns);
      EXPECT_TRUE(p.ok()) << p.status().message();
      c->prompt = std::move(*p);
      c->params.max_new_tokens = base_tokens + i % 7;
      if (i % 4 == 3) c->params.sampling.repetition_penalty = 1.3f;
      if (i % 8 == 5) {  // a sampled request with its own seed
        c->params.sampling.temperature = 0.8f;
        c->params.sampling.seed = 100 + static_cast<uint64_t>(i);
      }
      EXPECT_TRUE(engine_->Run(c->prompt, c->params, nullptr, &c->ref).ok());
      cases.push_back(std::move(c));
    }
    return cases;
  }

  void ExpectMatches(const Case& c, const Result& r, int index) {
    EXPECT_TRUE(r.done) << "request " << index;
    EXPECT_EQ(r.tokens, c.ref.token_ids) << "request " << index;
    EXPECT_EQ(r.text, c.ref.text) << "request " << index;
    EXPECT_EQ(FinishReasonName(r.reason), c.ref.finish_reason) << "request " << index << " " << r.error;
    EXPECT_EQ(r.usage.prompt_tokens, c.ref.prompt_tokens);
    EXPECT_EQ(r.usage.completion_tokens, static_cast<int64_t>(c.ref.token_ids.size()));
  }

  // Submits all cases at once, waits, checks each against its reference.
  void RunAndCheck(const std::vector<std::unique_ptr<Case>>& cases, const SchedulerOptions& opt,
                   SchedulerStats* stats_out = nullptr) {
    Collector col;
    std::vector<uint64_t> ids;
    {
      Scheduler sched(*engine_, opt);
      for (const auto& c : cases) {
        auto id = sched.Submit(c->prompt, c->params, col.Callback());
        ASSERT_TRUE(id.ok()) << id.status().message();
        ids.push_back(*id);
      }
      sched.WaitIdle();
      SchedulerStats s = sched.Stats();
      EXPECT_EQ(s.requests_finished, cases.size());
      EXPECT_EQ(s.running, 0);
      EXPECT_EQ(s.queue_length, 0);
      EXPECT_EQ(s.kv_blocks_used, 0);
      uint64_t generated = 0, prompt = 0;
      for (const auto& c : cases) generated += c->ref.token_ids.size(), prompt += c->ref.prompt_tokens;
      EXPECT_EQ(s.generated_tokens, generated);
      EXPECT_EQ(s.prompt_tokens, prompt);
      EXPECT_GT(s.forward_ms, 0.0);
      if (stats_out) *stats_out = s;
    }
    for (size_t i = 0; i < cases.size(); ++i) ExpectMatches(*cases[i], col.Get(ids[i]), static_cast<int>(i));
  }

  std::string dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(SchedulerTest, ConcurrentRequestsMatchRunAloneForAnyChunkSize) {
  auto cases = MakeCases(16);
  KvPool* pool = engine_->kv_pool();
  const int64_t free_before = pool->free_blocks();
  for (int64_t chunk : {512, 7}) {
    SCOPED_TRACE("chunk_size " + std::to_string(chunk));
    SchedulerOptions opt;
    opt.chunk_size = chunk;
    RunAndCheck(cases, opt);
    EXPECT_EQ(pool->free_blocks(), free_before);
  }
}

TEST_P(SchedulerTest, TinyKvPoolMakesRequestsWaitAndAllFinish) {
  auto cases = MakeCases(10, 10);
  const DeepseekV2& lm = engine_->model().language();
  const int block = 4;
  int64_t largest = 0;
  for (const auto& c : cases) largest = std::max<int64_t>(largest, c->ref.prompt_tokens + c->params.max_new_tokens + 1);
  // Room for the largest sequence and a bit: most requests must wait, some get preempted.
  KvPool pool(lm.num_layers(), lm.kv_row_width(), block, (largest + block - 1) / block + 6);
  SchedulerOptions opt;
  opt.kv_pool = &pool;
  opt.chunk_size = 64;
  SchedulerStats stats;
  RunAndCheck(cases, opt, &stats);
  EXPECT_EQ(pool.free_blocks(), pool.num_blocks());
  EXPECT_EQ(stats.kv_blocks_total, pool.num_blocks());
  std::printf("tiny pool: %lld blocks, %llu steps, %llu preemptions\n", static_cast<long long>(pool.num_blocks()),
              static_cast<unsigned long long>(stats.steps), static_cast<unsigned long long>(stats.preemptions));
}

TEST_P(SchedulerTest, GrowthBeyondThePoolPreemptsAndRecomputes) {
  auto cases = MakeCases(8, 40, /*images=*/false);
  const DeepseekV2& lm = engine_->model().language();
  const int block = 4;
  int64_t largest = 0;
  for (const auto& c : cases) largest = std::max<int64_t>(largest, c->ref.prompt_tokens + c->params.max_new_tokens + 1);
  // Several prompts fit at once but their outputs do not: decoding sequences must preempt others.
  KvPool pool(lm.num_layers(), lm.kv_row_width(), block, (largest + block - 1) / block + 4);
  SchedulerOptions opt;
  opt.kv_pool = &pool;
  opt.chunk_size = 5;
  SchedulerStats stats;
  RunAndCheck(cases, opt, &stats);
  EXPECT_GT(stats.preemptions, 0u);
  std::printf("growth: %llu preemptions\n", static_cast<unsigned long long>(stats.preemptions));
  EXPECT_EQ(pool.free_blocks(), pool.num_blocks());
}

TEST_P(SchedulerTest, CancelMidStreamFreesBlocksOthersUnaffected) {
  auto cases = MakeCases(6, 12);
  // The victim: a request whose reference output is long enough to cancel after 3 tokens.
  size_t victim = cases.size();
  for (size_t i = 0; i < cases.size(); ++i)
    if (cases[i]->ref.token_ids.size() >= 6) victim = i;
  ASSERT_LT(victim, cases.size()) << "no reference output long enough";
  KvPool* pool = engine_->kv_pool();
  const int64_t free_before = pool->free_blocks();
  Collector col;
  std::vector<uint64_t> ids;
  {
    SchedulerOptions opt;
    opt.chunk_size = 16;
    Scheduler sched(*engine_, opt);
    for (size_t i = 0; i < cases.size(); ++i) {
      int seen = 0;
      auto cancel_after_3 = [&sched, seen](const SchedulerEvent& ev) mutable {
        if (!ev.final && ++seen == 3) sched.Cancel(ev.request_id);  // a client disconnects
      };
      auto id = sched.Submit(cases[i]->prompt, cases[i]->params,
                             col.Callback(i == victim ? std::function<void(const SchedulerEvent&)>(cancel_after_3) : nullptr));
      ASSERT_TRUE(id.ok());
      ids.push_back(*id);
    }
    sched.WaitIdle();
    EXPECT_EQ(sched.Stats().requests_cancelled, 1u);
    EXPECT_EQ(sched.Stats().kv_blocks_used, 0);
    sched.Cancel(ids[0]);  // already finished: ignored
  }
  EXPECT_EQ(pool->free_blocks(), free_before);
  for (size_t i = 0; i < cases.size(); ++i) {
    Result r = col.Get(ids[i]);
    if (i != victim) {
      ExpectMatches(*cases[i], r, static_cast<int>(i));
      continue;
    }
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.reason, FinishReason::kCancelled);
    // Cancelled at the step after the third token: at most one more token was produced.
    ASSERT_GE(r.tokens.size(), 3u);
    EXPECT_LE(r.tokens.size(), 4u);
    const auto& ref = cases[i]->ref.token_ids;
    EXPECT_TRUE(std::equal(r.tokens.begin(), r.tokens.end(), ref.begin()));
  }
}

TEST_P(SchedulerTest, QueueOverflowAndInvalidRequestsAreErrors) {
  auto cases = MakeCases(1);
  // Block the scheduler thread inside the first request's first callback, so nothing is admitted
  // while the queue fills.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  Collector col;
  SchedulerOptions opt;
  opt.max_batch = 1;
  opt.max_queue = 2;
  {
    Scheduler sched(*engine_, opt);
    auto block_first = [&](const SchedulerEvent& ev) {
      if (ev.final) return;
      std::unique_lock<std::mutex> lock(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    };
    ASSERT_TRUE(sched.Submit(cases[0]->prompt, cases[0]->params, col.Callback(block_first)).ok());
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return entered; });
    }
    GenerationParams quiet = cases[0]->params;
    EXPECT_TRUE(sched.Submit(cases[0]->prompt, quiet, col.Callback()).ok());
    EXPECT_TRUE(sched.Submit(cases[0]->prompt, quiet, col.Callback()).ok());
    auto full = sched.Submit(cases[0]->prompt, quiet, col.Callback());
    EXPECT_FALSE(full.ok());
    EXPECT_NE(full.status().message().find("queue is full"), std::string::npos);
    EXPECT_EQ(sched.Stats().queue_length, 2);

    PreparedPrompt empty;
    EXPECT_FALSE(sched.Submit(empty, quiet, col.Callback()).ok());
    GenerationParams too_long = quiet;
    too_long.max_new_tokens = static_cast<int>(engine_->max_context());
    EXPECT_FALSE(sched.Submit(cases[0]->prompt, too_long, col.Callback()).ok());
    EXPECT_EQ(sched.Stats().requests_rejected, 3u);
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    sched.WaitIdle();
    EXPECT_EQ(sched.Stats().requests_finished, 3u);
  }
  EXPECT_EQ(engine_->kv_pool()->free_blocks(), engine_->kv_pool()->num_blocks());
}

TEST_P(SchedulerTest, DestructorCancelsEverything) {
  auto cases = MakeCases(4, 200);
  Collector col;
  std::vector<uint64_t> ids;
  {
    Scheduler sched(*engine_);
    for (const auto& c : cases) {
      GenerationParams p = c->params;
      p.stop_ids = {};  // keep generating until destroyed
      ids.push_back(*sched.Submit(c->prompt, p, col.Callback()));
    }
  }
  for (uint64_t id : ids) {
    Result r = col.Get(id);
    EXPECT_TRUE(r.done);
  }
  EXPECT_EQ(engine_->kv_pool()->free_blocks(), engine_->kv_pool()->num_blocks());
}

INSTANTIATE_TEST_SUITE_P(Models, SchedulerTest, ::testing::Values("tiny-mha", "small-mla"));

}  // namespace
}  // namespace dsvl2
