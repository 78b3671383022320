// ThreadPool: every task of every dispatch runs exactly once, with a thread index in range, for
// pool sizes above and below the core count, dispatches of 0..300 tasks back to back, after
// idle gaps long enough for the workers to fall asleep, and with slow tasks; destruction right
// after a dispatch never hangs.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "model/threadpool.h"
#include "test_util.h"

using namespace edgeq;
using namespace edgeq::test;

namespace {

void check(bool ok, const char* what, int n_threads, int round) {
    counters().comparisons++;
    if (!ok) {
        counters().failures++;
        std::fprintf(stderr, "FAIL %s (n_threads %d, round %d)\n", what, n_threads, round);
    }
}

void run_rounds(ThreadPool& pool, int rounds, bool slow, bool gaps) {
    std::uniform_int_distribution<int> n_dist(0, 300);
    std::vector<std::atomic<int>> hits(300);
    for (int r = 0; r < rounds; r++) {
        const int n = n_dist(rng());
        for (auto& h : hits) h.store(0);
        std::atomic<bool> bad_thread{false};
        pool.parallel_for(n, [&](int task, int thread) {
            if (thread < 0 || thread >= pool.size()) bad_thread = true;
            if (slow && task % 37 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
            hits[task].fetch_add(1);
        });
        bool once = true;
        for (int t = 0; t < 300; t++) once &= hits[t].load() == (t < n ? 1 : 0);
        check(once, "every task exactly once", pool.size(), r);
        check(!bad_thread, "thread index in range", pool.size(), r);
        if (gaps && r % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));  // workers sleep
    }
}

}  // namespace

int main() {
    for (int n_threads : {1, 2, 3, 5, 8}) {
        ThreadPool pool(n_threads);
        check(pool.size() == n_threads, "size", n_threads, 0);
        run_rounds(pool, 2000, false, false);
        run_rounds(pool, 100, true, false);
        run_rounds(pool, 60, false, true);
    }
    // Construction and destruction with sleeping and with spinning workers.
    for (int i = 0; i < 20; i++) {
        ThreadPool pool(3);
        if (i % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // Destruction right after a dispatch the caller may have finished alone: a worker whose late
    // claim lands on the destructor's stop job must still stop (it used to sleep forever, and
    // the destructor's join hung). A watchdog turns a hang into a failure.
    {
        std::atomic<bool> finished{false};
        std::thread watchdog([&] {
            for (int i = 0; i < 1200 && !finished.load(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!finished.load()) {
                std::fprintf(stderr, "FAIL ThreadPool destruction hung\n");
                std::_Exit(1);
            }
        });
        for (int i = 0; i < 20000; i++) {
            ThreadPool pool(2);
            pool.parallel_for(2, [](int, int) {});
        }
        finished = true;
        watchdog.join();
        check(true, "destruction after a dispatch", 2, 0);
    }
    bool threw = false;
    try {
        ThreadPool bad(0);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    check(threw, "n_threads = 0 is rejected", 0, 0);
    return finish("test_threadpool");
}
