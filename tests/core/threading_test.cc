#include "core/threading.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace seedtune {
namespace {

TEST(ThreadingTest, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadingContext ctx(threads);
    EXPECT_EQ(ctx.num_threads(), threads);
    for (size_t tasks : {0u, 1u, 3u, 1000u}) {
      std::vector<std::atomic<int>> hits(tasks);
      std::atomic<int> bad_thread{0};
      ctx.ParallelFor(tasks, [&](size_t t, int thread) {
        hits[t]++;
        if (thread < 0 || thread >= threads) bad_thread++;
      });
      for (size_t t = 0; t < tasks; ++t) EXPECT_EQ(hits[t].load(), 1);
      EXPECT_EQ(bad_thread.load(), 0);
    }
  }
}

TEST(ThreadingTest, ReusableAcrossManyCalls) {
  ThreadingContext ctx(3);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 200; ++rep) ctx.ParallelFor(7, [&](size_t t, int) { sum += static_cast<long>(t); });
  EXPECT_EQ(sum.load(), 200L * 21);
}

TEST(ThreadingTest, BackToBackJobsOfChangingSizeRunEachTaskOnceAndFinishBeforeReturning) {
  // More threads than cores, so workers get preempted between reading a job
  // and claiming from it: a claim must never land in the next job, and a job
  // must not return while one of its tasks still runs.
  ThreadingContext ctx(4);
  std::vector<int> hits(16);
  std::atomic<int> running{0}, bad{0};
  for (int rep = 0; rep < 20000; ++rep) {
    const size_t n = 2 + static_cast<size_t>(rep % 7) * 2;
    std::fill(hits.begin(), hits.end(), 0);
    ctx.ParallelFor(n, [&](size_t t, int) {
      running.fetch_add(1);
      if (t >= n) bad.fetch_add(1);
      else ++hits[t];
      running.fetch_sub(1);
    });
    if (running.load() != 0) bad.fetch_add(1);
    for (size_t t = 0; t < n; ++t)
      if (hits[t] != 1) bad.fetch_add(1);
  }
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace seedtune
