#include "core/threading.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace seedtune {

namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Pause iterations a worker spins for the next job before it sleeps (tens of
// microseconds: a forward pass issues its next job well within that).
constexpr int kSpinIterations = 20000;

}  // namespace

ThreadingContext::ThreadingContext(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadingContext::~ThreadingContext() {
  stop_.store(true, std::memory_order_release);
  // A generation change wakes every sleeping worker; they then see stop_.
  state_.fetch_add(Pack(1, 0), std::memory_order_acq_rel);
  state_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadingContext::RunTasks(uint32_t gen, int thread_index) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(s >> 32) != gen) return;
    // Read after seeing `gen`. Run closes the generation before it rewrites
    // these fields, so fields of a later job mean the CAS below fails.
    const size_t n = num_tasks_.load(std::memory_order_acquire);
    const uint32_t task = static_cast<uint32_t>(s);
    if (task >= n) return;
    void* fn = job_fn_.load(std::memory_order_acquire);
    auto* call = job_call_.load(std::memory_order_acquire);
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    call(fn, task, thread_index);
    done_.fetch_add(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadingContext::WorkerLoop(int thread_index) {
  uint32_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    int spins = 0;
    while (static_cast<uint32_t>(s >> 32) == seen) {
      if (++spins < kSpinIterations) {
        CpuRelax();
      } else {
        state_.wait(s, std::memory_order_acquire);
      }
      s = state_.load(std::memory_order_acquire);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = static_cast<uint32_t>(s >> 32);
    RunTasks(seen, thread_index);
  }
}

void ThreadingContext::Run(size_t num_tasks, Job job) {
  if (num_tasks == 0) return;
  if (num_threads_ == 1 || num_tasks == 1) {
    for (size_t t = 0; t < num_tasks; ++t) job.call(job.fn, t, 0);
    return;
  }
  // First a new generation whose next task is past any job's end: a worker
  // still holding the previous generation's state can no longer claim (its
  // CAS fails), even after it reads the new job's fields. Then the fields,
  // then the job itself under one more generation.
  const uint32_t closed = static_cast<uint32_t>(state_.load(std::memory_order_relaxed) >> 32) + 1;
  state_.store(Pack(closed, kClosedTask), std::memory_order_seq_cst);
  job_fn_.store(job.fn, std::memory_order_release);
  job_call_.store(job.call, std::memory_order_release);
  num_tasks_.store(num_tasks, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = closed + 1;
  state_.store(Pack(gen, 0), std::memory_order_release);
  state_.notify_all();
  RunTasks(gen, 0);
  // Tasks claimed by workers may still be running (yield now and then: with
  // more threads than cores the worker may need this core to finish).
  for (int spins = 0; done_.load(std::memory_order_acquire) != num_tasks; ++spins) {
    if (spins < kSpinIterations) CpuRelax();
    else std::this_thread::yield();
  }
}

}  // namespace seedtune
