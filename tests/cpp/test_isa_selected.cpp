// The table kernels() picks for this process: with EDGEQ_ISA unset, the last (most preferred)
// runnable ISA. Prints "selected ISA: <name>" so that logs of emulated runs (tests/run_arm.sh)
// show which tier each CPU model got; with EDGEQ_ISA set, checks that the named table is used.
#include <cstdlib>

#include "test_util.h"

using namespace edgeq;

int main() {
    const char* env = std::getenv("EDGEQ_ISA");
    const std::string want = env && *env ? std::string(env) : runnable_isas().back();
    const KernelTable& k = kernels();
    std::printf("selected ISA: %s%s\n", k.name, env && *env ? " (EDGEQ_ISA)" : "");
    test::expect_true(k.name == want, std::string("kernels() is '") + k.name + "', expected '" + want + "'");
    test::expect_true(&k == &kernels_for(want), "kernels() is the cached table of " + want);
    return test::finish("test_isa_selected");
}
