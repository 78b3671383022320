// Persistent worker threads for the forward pass. One parallel_for is one "dispatch": the caller
// publishes a job, every thread (the caller included) grabs task indices from a shared counter,
// and the caller returns once all workers have acknowledged the job. Between dispatches workers
// spin for a short while (a decode step issues ~10 dispatches per layer, microseconds apart),
// then sleep on a condition variable so an idle model costs no CPU.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace edgeq {

class ThreadPool {
public:
    // n_threads: total threads working on a job, the calling thread included (>= 1).
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls f(task, thread) for every task in [0, n_tasks), spread over the threads; thread is
    // in [0, size()). Returns when all tasks are done. Not re-entrant; one caller at a time.
    template <class F>
    void parallel_for(int n_tasks, F&& f) {
        using Fn = std::remove_reference_t<F>;
        run(n_tasks, [](void* ctx, int task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); }, &f);
    }

private:
    using TaskFn = void (*)(void* ctx, int task, int thread);
    void run(int n_tasks, TaskFn fn, void* ctx);
    void worker_main(int thread);
    void work(int thread);

    int n_threads_;
    std::vector<std::thread> workers_;

    // The current job (written by the caller before `generation_` is bumped).
    TaskFn fn_ = nullptr;
    void* ctx_ = nullptr;
    int n_tasks_ = 0;
    alignas(64) std::atomic<int> next_task_{0};
    alignas(64) std::atomic<int> pending_{0};      // workers that have not finished the job
    alignas(64) std::atomic<unsigned> generation_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace edgeq
