// Persistent worker threads for the forward pass. One parallel_for is one "dispatch": the caller
// publishes a job, every thread (the caller included) claims task indices from one shared atomic
// word, and the caller returns once every task is done. The caller never waits for a worker that
// has not claimed a task: on an oversubscribed machine a descheduled worker costs nothing, the
// caller simply runs the remaining tasks itself. Between dispatches workers spin for a short
// while (a decode step issues ~5 dispatches per layer, microseconds apart), then sleep on a
// condition variable so an idle model costs no CPU.
#pragma once
#include <atomic>
#include <cstdint>
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
    // Claims and runs tasks until the job is exhausted; returns the generation it saw last.
    unsigned work(int thread);

    int n_threads_;
    std::vector<std::thread> workers_;

    // The job word: generation (16 bits) | n_tasks (24 bits) | next task index (24 bits). A
    // fetch_add claims index `next` of job `generation`; the claim is valid iff next < n_tasks,
    // and then that job cannot finish before the claimed task does, so fn_ / ctx_ (written
    // before the word was published) stay valid while it runs. A stale worker's claim lands
    // on the current job and is simply a claim of that job's next task.
    static constexpr int kIndexBits = 24;
    static constexpr uint64_t kIndexMask = (1u << kIndexBits) - 1;
    TaskFn fn_ = nullptr;
    void* ctx_ = nullptr;
    alignas(64) std::atomic<uint64_t> job_{0};
    alignas(64) std::atomic<int> done_{0};  // tasks of the current job finished
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace edgeq
