// For tests that run inside `mpirun -np 2` (ctest comm_mpi_np2) and skip in a plain run.
//
//   TEST(Mpi, Something) {
//     LOOM_REQUIRE_RANKS();
//     ...
//   }
#pragma once

#include <gtest/gtest.h>

#include "loom/comm/launch.h"

#define LOOM_REQUIRE_RANKS()                                                             \
  do {                                                                                   \
    if (::loom::comm::DiscoverLaunch().size < 2) {                                       \
      GTEST_SKIP() << "needs several ranks: run under mpirun -np 2 (ctest -R comm_mpi)"; \
    }                                                                                    \
  } while (0)
