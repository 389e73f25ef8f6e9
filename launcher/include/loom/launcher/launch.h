// `loom launch`: the `mpirun` command line that runs `loom train` on N processes, built from the
// request and a snapshot of the environment so that it can be tested without running anything.
//
//   loom::launch::LaunchRequest request{.num_processes = 2, .experiment = "exp.yaml"};
//   loom::launch::LaunchCommand cmd =
//       loom::launch::BuildLaunchCommand(request, loom::launch::CurrentEnvironment());
//   std::cout << loom::launch::ShellJoin(cmd.argv) << "\n";
//   // mpirun -np 2 --bind-to none --oversubscribe -x LOOM_COMM_TIMEOUT /path/loom train exp.yaml
//   //     distributed.kvstore=dist_sync
//
// All functions are reentrant; CurrentEnvironment() reads the process environment.
#pragma once

#include <string>
#include <vector>

namespace loom::launch {

/// What the command line depends on besides the request.
struct LaunchEnvironment {
  /// mpirun's path; empty when none was found.
  std::string mpirun;
  /// The `loom` executable the ranks run.
  std::string loom_executable;
  /// Cores this process may run on (Open MPI's default slot count for the local host).
  int local_cores = 1;
  bool is_root = false;
  /// Names of the LOOM_* environment variables that are set, sorted.
  std::vector<std::string> loom_variables;
};

/// mpirun from PATH, else the one found at build time (LOOM_MPIEXEC); /proc/self/exe; the physical
/// cores of this process's CPU affinity mask; geteuid() == 0; the LOOM_* variables of environ.
LaunchEnvironment CurrentEnvironment();

struct LaunchRequest {
  int num_processes = 1;
  /// Open MPI hostfile ("host slots=K" lines); empty: all ranks on this host.
  std::string hosts_file;
  std::string experiment;
  /// `key.path=value` overrides passed on to `loom train`.
  std::vector<std::string> overrides;
};

struct LaunchCommand {
  std::vector<std::string> argv;
  /// Why flags were added ("running as root: --allow-run-as-root"), one line each.
  std::vector<std::string> notes;
};

/// @brief The mpirun command: `-np N --bind-to none`, `--hostfile F` or (N above the local cores)
/// `--oversubscribe`, `--allow-run-as-root` as root, `-x NAME` per LOOM_* variable, then
/// `<loom> train EXPERIMENT overrides...`, plus `distributed.kvstore=dist_sync` (dist_device_sync
/// for `device`) unless the experiment already uses a kvstore that reduces across processes
/// (dist_sync, dist_device_sync, nccl). Loads and validates the experiment with its overrides.
/// @throws loom::Error for N < 1, a missing mpirun, a missing or malformed hosts file (file:line),
///         more processes than the hosts file's slots; loom::ConfigError for a bad experiment.
LaunchCommand BuildLaunchCommand(const LaunchRequest& request, const LaunchEnvironment& env);

/// One host line of an Open MPI hostfile.
struct HostEntry {
  std::string host;
  /// slots=K; 0 when not given (Open MPI then uses the host's core count).
  int slots = 0;
  /// max_slots=K; 0 when not given.
  int max_slots = 0;
};

/// @brief Parses an Open MPI hostfile: `host [slots=K] [max_slots=K]` per line, `#` comments,
/// blank lines.
/// @throws loom::Error naming file:line for an unreadable file, an unknown or malformed field.
std::vector<HostEntry> ReadHostsFile(const std::string& path);

/// `word` quoted for a POSIX shell when it needs it ('it'\''s').
std::string ShellQuote(const std::string& word);
/// The words quoted and joined by spaces.
std::string ShellJoin(const std::vector<std::string>& words);

}  // namespace loom::launch
