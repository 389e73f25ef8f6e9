#include "loom/comm/launch.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom::comm {
namespace {

struct VarPair {
  const char* rank;
  const char* size;
  const char* source;
};

// conventions.md C4, horovod's order. The launchers' own variables, not Loom's (env.h has those).
constexpr VarPair kPairs[] = {
    {env::kRank, env::kWorldSize, "LOOM_RANK/LOOM_WORLD_SIZE"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_*"},
    {"PMI_RANK", "PMI_SIZE", "PMI_*"},
    {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_PROCID/SLURM_NTASKS"},
    {"RANK", "WORLD_SIZE", "RANK/WORLD_SIZE"},
};
constexpr const char* kLocalRanks[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "SLURM_LOCALID", "LOCAL_RANK"};
constexpr const char* kLocalSizes[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "",
                                       "LOCAL_WORLD_SIZE"};

const char* Get(const char* name) {
  const char* value = name[0] ? std::getenv(name) : nullptr;
  return value && value[0] ? value : nullptr;
}

int ParseInt(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  LOOM_CHECK(errno == 0 && end != text && *end == '\0' && value >= 0 && value <= 1 << 24,
             "expected ", name, " to be a non-negative integer but got '", text, "'");
  return static_cast<int>(value);
}

}  // namespace

std::string LaunchInfo::ToString() const {
  std::string text = "rank " + std::to_string(rank) + " of " + std::to_string(size);
  if (size > 1) {
    text += " (local " + std::to_string(local_rank) + " of " + std::to_string(local_size) + ")";
  }
  text += source.empty() ? std::string(" (no launcher variables)") : " from " + source;
  return text;
}

LaunchInfo DiscoverLaunch() {
  LaunchInfo info;
  for (const VarPair& pair : kPairs) {
    const char* rank = Get(pair.rank);
    const char* size = Get(pair.size);
    if (!rank && !size) continue;
    LOOM_CHECK(rank && size, "the launcher set ", rank ? pair.rank : pair.size, " but not ",
               rank ? pair.size : pair.rank, ": expected both or neither");
    info.rank = ParseInt(pair.rank, rank);
    info.size = ParseInt(pair.size, size);
    LOOM_CHECK(info.size >= 1 && info.rank < info.size, "expected ", pair.rank, " from 0 to ",
               pair.size, " - 1 but got ", info.rank, " with ", pair.size, "=", info.size);
    info.source = pair.source;
    break;
  }
  info.local_rank = info.rank;
  info.local_size = info.size;
  for (size_t i = 0; i < std::size(kLocalRanks); ++i) {
    const char* local = Get(kLocalRanks[i]);
    if (!local) continue;
    info.local_rank = ParseInt(kLocalRanks[i], local);
    const char* local_size = Get(kLocalSizes[i]);
    info.local_size = local_size ? ParseInt(kLocalSizes[i], local_size) : info.size;
    break;
  }
  return info;
}

}  // namespace loom::comm
