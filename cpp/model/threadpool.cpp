#include "model/threadpool.h"

#include <chrono>
#include <stdexcept>

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
        generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::work(int thread) {
    for (;;) {
        const int task = next_task_.fetch_add(1, std::memory_order_relaxed);
        if (task >= n_tasks_) break;
        fn_(ctx_, task, thread);
    }
}

void ThreadPool::run(int n_tasks, TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes the job
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(mu_);  // a sleeper is inside wait() or sees the new generation
        cv_.notify_all();
    }
    work(0);
    // Workers still finishing their last task. Spin, but yield the core if one of them has been
    // descheduled (an oversubscribed machine).
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; spins++) {
        if (spins < 4096) cpu_relax();
        else std::this_thread::yield();
    }
}

void ThreadPool::worker_main(int thread) {
    unsigned seen = 0;
    for (;;) {
        unsigned g = generation_.load(std::memory_order_acquire);
        if (g == seen) {
            const auto t0 = std::chrono::steady_clock::now();
            for (int spins = 0; (g = generation_.load(std::memory_order_acquire)) == seen; spins++) {
                cpu_relax();
                if ((spins & 255) == 255 && std::chrono::steady_clock::now() - t0 > kSpin) break;
            }
            if (g == seen) {
                std::unique_lock<std::mutex> lock(mu_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                while ((g = generation_.load(std::memory_order_seq_cst)) == seen) cv_.wait(lock);
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
        seen = g;
        if (stop_.load()) return;
        work(thread);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace edgeq
