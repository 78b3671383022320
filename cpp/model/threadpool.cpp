#include "model/threadpool.h"

#include <chrono>
#include <stdexcept>
#include <string>

namespace edgeq {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

// How long an idle worker spins before it sleeps. Long enough to bridge the gaps between the
// dispatches of one eval call and between the calls of a generation loop (Python sampling takes
// tens of microseconds); short enough that an idle model stops burning a core quickly.
constexpr auto kSpin = std::chrono::microseconds(1000);

inline unsigned generation_of(uint64_t job) { return (unsigned)(job >> 48); }

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
    if (n_threads < 1 || n_threads > 1024)
        throw std::invalid_argument("n_threads must be in [1, 1024], got " + std::to_string(n_threads));
    workers_.reserve(n_threads - 1);
    for (int t = 1; t < n_threads; t++) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_.store(true);
        // A new generation with no tasks wakes every worker, which then sees stop_.
        const uint64_t g = (generation_of(job_.load()) + 1) & 0xffff;
        job_.store(g << 48);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
}

unsigned ThreadPool::work(int thread) {
    for (;;) {
        const uint64_t v = job_.fetch_add(1, std::memory_order_acq_rel);
        const int n_tasks = (int)((v >> kIndexBits) & kIndexMask);
        const int task = (int)(v & kIndexMask);
        if (task >= n_tasks) return generation_of(v);
        fn_(ctx_, task, thread);
        done_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(int n_tasks, TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    if ((uint64_t)n_tasks > kIndexMask / 2) throw std::length_error("too many tasks for one dispatch");
    fn_ = fn;
    ctx_ = ctx;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t g = (generation_of(job_.load(std::memory_order_relaxed)) + 1) & 0xffff;
    job_.store((g << 48) | ((uint64_t)n_tasks << kIndexBits), std::memory_order_seq_cst);  // publish
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(mu_);  // a sleeper is inside wait() or sees the new job
        cv_.notify_all();
    }
    work(0);
    // Tasks that workers claimed and are still running. Spin, but yield the core if one of them
    // has been descheduled (an oversubscribed machine).
    for (int spins = 0; done_.load(std::memory_order_acquire) != n_tasks; spins++) {
        if (spins < 4096) cpu_relax();
        else std::this_thread::yield();
    }
}

void ThreadPool::worker_main(int thread) {
    unsigned seen = 0;  // the generation job_ starts with (this thread may start late)
    for (;;) {
        unsigned g = generation_of(job_.load(std::memory_order_acquire));
        if (g == seen) {
            const auto t0 = std::chrono::steady_clock::now();
            // stop_ too: work() may have consumed the destructor's generation bump (a late claim
            // lands on its empty stop job), and then no generation change is coming.
            for (int spins = 0;
                 (g = generation_of(job_.load(std::memory_order_acquire))) == seen && !stop_.load(std::memory_order_relaxed);
                 spins++) {
                cpu_relax();
                if ((spins & 255) == 255 && std::chrono::steady_clock::now() - t0 > kSpin) break;
            }
            if (g == seen && !stop_.load()) {
                std::unique_lock<std::mutex> lock(mu_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                while ((g = generation_of(job_.load(std::memory_order_seq_cst))) == seen && !stop_.load()) cv_.wait(lock);
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
        if (stop_.load()) return;
        seen = work(thread);
    }
}

}  // namespace edgeq
