// Explicit threading context, passed to everything that computes. No global
// pool: a ThreadingContext is created by the caller (the CLI, a test, a
// simulated client) and handed down.
//
// Determinism rule for all users: work is cut into tasks whose boundaries
// depend only on the problem shape, never on the number of threads; each task
// writes its own outputs; reductions across tasks happen afterwards in task
// order. Results are then bit-identical for any thread count.
//
// Hand-off cost: a small model's forward pass is hundreds of ParallelFor calls
// of a few microseconds each, so a call must cost far less than that. The
// job is published through one atomic word (generation, next task); workers
// claim tasks with a compare-and-swap on it, spin briefly after each job and
// only then sleep (C++20 atomic wait), and the caller waits for the tasks to
// be done, not for sleeping workers to wake up.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
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
  template <typename F>
  void ParallelFor(size_t num_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    Run(num_tasks, Job{const_cast<void*>(static_cast<const void*>(&fn)), [](void* f, size_t task, int thread) {
                         (*static_cast<Fn*>(f))(task, thread);
                       }});
  }

 private:
  struct Job {
    void* fn = nullptr;
    void (*call)(void*, size_t, int) = nullptr;
  };
  void Run(size_t num_tasks, Job job);
  // Claims and runs tasks of the job of generation `gen` until none is left.
  void RunTasks(uint32_t gen, int thread_index);
  void WorkerLoop(int thread_index);

  static constexpr uint64_t Pack(uint32_t gen, uint32_t next) { return (uint64_t{gen} << 32) | next; }
  // Next-task value of a closed generation (no job has that many tasks).
  static constexpr uint32_t kClosedTask = 0xffffffffu;

  int num_threads_;
  std::vector<std::thread> workers_;
  // (generation << 32) | next unclaimed task of the current job.
  std::atomic<uint64_t> state_{0};
  std::atomic<void*> job_fn_{nullptr};
  std::atomic<void (*)(void*, size_t, int)> job_call_{nullptr};
  std::atomic<size_t> num_tasks_{0};
  std::atomic<size_t> done_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace seedtune
