#include "core/threading.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace seedtune
