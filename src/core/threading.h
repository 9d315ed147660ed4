// Explicit threading context, passed to everything that computes. No global
// pool: a ThreadingContext is created by the caller (the CLI, a test, a
// simulated client) and handed down.
//
// Determinism rule for all users: work is cut into tasks whose boundaries
// depend only on the problem shape, never on the number of threads; each task
// writes its own outputs; reductions across tasks happen afterwards in task
// order. Results are then bit-identical for any thread count.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace seedtune {

class ThreadingContext {
 public:
  // num_threads <= 0 picks std::thread::hardware_concurrency().
  explicit ThreadingContext(int num_threads = 0);
  ~ThreadingContext();
  ThreadingContext(const ThreadingContext&) = delete;
  ThreadingContext& operator=(const ThreadingContext&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(task, thread_index) for task in [0, num_tasks). Blocks until all
  // tasks are done. thread_index in [0, num_threads()) identifies per-thread
  // scratch. Not re-entrant: fn must not call ParallelFor on the same context.
  void ParallelFor(size_t num_tasks, const std::function<void(size_t task, int thread)>& fn);

 private:
  void WorkerLoop(int thread_index);
  void RunTasks(int thread_index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(size_t, int)>* job_ = nullptr;
  size_t num_tasks_ = 0;
  size_t next_task_ = 0;
  int active_workers_ = 0;
  unsigned generation_ = 0;
  bool stop_ = false;
};

}  // namespace seedtune
