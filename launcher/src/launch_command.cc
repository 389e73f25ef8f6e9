// `loom launch -n N [--hosts FILE] [--dry-run] EXPERIMENT.yaml [key.path=value ...]`: prints the
// equivalent `mpirun ... loom train ...` command line and runs it (loom/launcher/launch.h).
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "commands.h"
#include "loom/comm/kvstore.h"
#include "loom/launcher/launch.h"
#include "loom/scheduler/error.h"
#include "loom/train/config.h"

extern char** environ;

namespace loom {
namespace launch {
namespace {

namespace fs = std::filesystem;

/// The first executable `name` in PATH, or "".
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    std::error_code ec;
    if (access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate, ec)) return candidate;
  }
  return "";
}

/// Distinct (package, core) pairs of the CPUs this process may run on: Open MPI counts cores, not
/// hardware threads, as a host's slots.
int PhysicalCores() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0) return 1;
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &mask)) continue;
    const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::string package, core;
    std::ifstream(topology + "physical_package_id") >> package;
    std::ifstream(topology + "core_id") >> core;
    if (core.empty()) return CPU_COUNT(&mask);  // no topology: count CPUs
    cores.emplace(package, core);
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

/// "K" of a "key=K" field: a positive integer.
int ParseCount(const std::string& value, const std::string& where, const std::string& field) {
  int n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  LOOM_CHECK(ec == std::errc() && end == value.data() + value.size() && n > 0, where,
             ": expected a positive integer in '", field, "' but got '", value, "'");
  return n;
}

}  // namespace

LaunchEnvironment CurrentEnvironment() {
  LaunchEnvironment env;
  env.mpirun = FindInPath("mpirun");
#ifdef LOOM_MPIEXEC
  if (env.mpirun.empty() && access(LOOM_MPIEXEC, X_OK) == 0) env.mpirun = LOOM_MPIEXEC;
#endif
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  env.loom_executable = ec ? "loom" : self.string();
  env.local_cores = PhysicalCores();
  env.is_root = geteuid() == 0;
  for (char** var = environ; *var != nullptr; ++var) {
    const std::string entry = *var;
    const size_t eq = entry.find('=');
    if (entry.starts_with("LOOM_") && eq != std::string::npos) {
      env.loom_variables.push_back(entry.substr(0, eq));
    }
  }
  std::sort(env.loom_variables.begin(), env.loom_variables.end());
  return env;
}

std::vector<HostEntry> ReadHostsFile(const std::string& path) {
  LOOM_CHECK(fs::is_regular_file(path), "hosts file '", path, "' does not exist or is not a file");
  std::ifstream in(path);
  LOOM_CHECK(in.good(), "cannot read hosts file '", path, "': ", std::strerror(errno));
  std::vector<HostEntry> hosts;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    HostEntry entry;
    if (!(words >> entry.host)) continue;
    const std::string where = path + ":" + std::to_string(number);
    LOOM_CHECK(entry.host.find('=') == std::string::npos, where,
               ": expected a host name first but got '", entry.host,
               "' (format: host slots=K [max_slots=K])");
    for (std::string field; words >> field;) {
      const size_t eq = field.find('=');
      LOOM_CHECK(eq != std::string::npos, where, ": expected key=value after the host but got '",
                 field, "' (format: host slots=K [max_slots=K])");
      const std::string key = field.substr(0, eq);
      const std::string value = field.substr(eq + 1);
      if (key == "slots") {
        entry.slots = ParseCount(value, where, field);
      } else if (key == "max_slots" || key == "max-slots") {
        entry.max_slots = ParseCount(value, where, field);
      } else {
        LOOM_CHECK(false, where, ": expected slots=K or max_slots=K but got '", field, "'");
      }
    }
    LOOM_CHECK(entry.max_slots == 0 || entry.slots <= entry.max_slots, where,
               ": slots=", entry.slots, " exceeds max_slots=", entry.max_slots);
    hosts.push_back(entry);
  }
  LOOM_CHECK(!hosts.empty(), "hosts file '", path,
             "' names no host (format: one 'host slots=K' per line)");
  return hosts;
}

LaunchCommand BuildLaunchCommand(const LaunchRequest& request, const LaunchEnvironment& env) {
  LOOM_CHECK(request.num_processes >= 1, "expected -n N with N >= 1 but got ",
             request.num_processes);
  LOOM_CHECK(!env.mpirun.empty(),
             "mpirun was not found in PATH: install Open MPI (Debian/Ubuntu: apt-get install "
             "openmpi-bin)");
  LOOM_CHECK(fs::is_regular_file(request.experiment), "experiment file '", request.experiment,
             "' does not exist");
  const proto::Experiment experiment = train::LoadExperiment(request.experiment, request.overrides);

  LaunchCommand cmd;
  const std::string n = std::to_string(request.num_processes);
  cmd.argv = {env.mpirun, "-np", n, "--bind-to", "none"};
  if (!request.hosts_file.empty()) {
    const std::vector<HostEntry> hosts = ReadHostsFile(request.hosts_file);
    const bool all_counted =
        std::all_of(hosts.begin(), hosts.end(), [](const HostEntry& h) { return h.slots > 0; });
    int slots = 0;
    for (const HostEntry& h : hosts) slots += h.slots;
    LOOM_CHECK(!all_counted || request.num_processes <= slots, "-n ", request.num_processes,
               " exceeds the ", slots, " slots of hosts file '", request.hosts_file,
               "' (add hosts or raise slots=)");
    cmd.argv.insert(cmd.argv.end(), {"--hostfile", request.hosts_file});
  } else if (request.num_processes > env.local_cores) {
    cmd.argv.push_back("--oversubscribe");
    cmd.notes.push_back(n + " processes on " + std::to_string(env.local_cores) +
                        " cores: --oversubscribe");
  }
  if (env.is_root) {
    cmd.argv.push_back("--allow-run-as-root");
    cmd.notes.push_back("running as root: --allow-run-as-root");
  }
  for (const std::string& name : env.loom_variables) cmd.argv.insert(cmd.argv.end(), {"-x", name});
  cmd.argv.insert(cmd.argv.end(), {env.loom_executable, "train", request.experiment});
  cmd.argv.insert(cmd.argv.end(), request.overrides.begin(), request.overrides.end());
  const std::string& kvstore = experiment.distributed().kvstore();
  if (!comm::ReducesAcrossProcesses(kvstore)) {
    const std::string dist = kvstore == "device" ? "dist_device_sync" : "dist_sync";
    cmd.argv.push_back("distributed.kvstore=" + dist);
    cmd.notes.push_back("the experiment's kvstore '" + kvstore +
                        "' does not reduce across processes: distributed.kvstore=" + dist);
  }
  return cmd;
}

std::string ShellQuote(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./_-", c) != nullptr;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string ShellJoin(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& word : words) {
    if (!line.empty()) line += ' ';
    line += ShellQuote(word);
  }
  return line;
}

}  // namespace launch

namespace cli {
namespace {

constexpr const char* kLaunchUsage =
    "usage: loom launch -n N [--hosts FILE] [--dry-run] EXPERIMENT.yaml [key.path=value ...]\n"
    "  runs `loom train EXPERIMENT.yaml` on N processes through Open MPI's mpirun (from PATH):\n"
    "  prints the mpirun command line, then runs it and returns its exit status.\n"
    "  -n, -np N      number of processes (ranks)\n"
    "  --hosts FILE   Open MPI hostfile, one 'host slots=K' per line (default: this host only;\n"
    "                 --oversubscribe when N exceeds its cores)\n"
    "  --dry-run      print the command line only\n"
    "  Adds --bind-to none, --allow-run-as-root as root, -x NAME for each LOOM_* variable, and\n"
    "  distributed.kvstore=dist_sync unless the experiment uses dist_sync, dist_device_sync or\n"
    "  nccl. docs/comm.md (Launching) has the multi-host recipe.\n";

/// fork + execv, waits with SIGINT and SIGQUIT ignored (as system() does: the terminal sends them
/// to mpirun too, which stops the ranks); the child's exit status, 128 + signal when killed.
int RunAndWait(const std::vector<std::string>& argv, std::ostream& err) {
  std::vector<char*> c_argv;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  struct sigaction ignore = {}, old_int = {}, old_quit = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  const pid_t pid = fork();
  if (pid == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    execv(c_argv[0], c_argv.data());
    const std::string msg =
        "loom launch: cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!write(STDERR_FILENO, msg.data(), msg.size());
    _exit(127);
  }
  int status = 0;
  int waited = -1;
  if (pid > 0) {
    do {
      waited = waitpid(pid, &status, 0);
    } while (waited < 0 && errno == EINTR);
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  if (pid < 0 || waited < 0) {
    err << "loom launch: cannot run " << argv[0] << ": " << std::strerror(errno) << "\n";
    return kExitFailure;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

int Launch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  launch::LaunchRequest request;
  bool dry_run = false;
  bool have_n = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool takes_value = arg == "-n" || arg == "-np" || arg == "--hosts";
    if (takes_value && i + 1 == args.size()) {
      err << "loom launch: " << arg << " expects a value\n" << kLaunchUsage;
      return kExitFailure;
    }
    if (arg == "--help" || arg == "-h") {
      out << kLaunchUsage;
      return 0;
    } else if (arg == "-n" || arg == "-np") {
      const std::string& value = args[++i];
      const auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), request.num_processes);
      if (ec != std::errc() || end != value.data() + value.size()) {
        err << "loom launch: expected a number after " << arg << " but got '" << value << "'\n";
        return kExitFailure;
      }
      have_n = true;
    } else if (arg == "--hosts") {
      request.hosts_file = args[++i];
    } else if (arg == "--dry-run") {
      dry_run = true;
    } else if (arg.starts_with("-")) {
      err << "loom launch: unknown option '" << arg << "'\n" << kLaunchUsage;
      return kExitFailure;
    } else if (arg.find('=') != std::string::npos) {
      request.overrides.push_back(arg);
    } else if (request.experiment.empty()) {
      request.experiment = arg;
    } else {
      err << "loom launch: expected one experiment file but got '" << request.experiment
          << "' and '" << arg << "' (overrides look like key.path=value)\n";
      return kExitFailure;
    }
  }
  if (!have_n || request.experiment.empty()) {
    err << "loom launch: expected " << (have_n ? "an experiment file" : "-n N") << "\n"
        << kLaunchUsage;
    return kExitFailure;
  }
  const launch::LaunchCommand cmd =
      launch::BuildLaunchCommand(request, launch::CurrentEnvironment());
  for (const std::string& note : cmd.notes) err << "loom launch: " << note << "\n";
  out << "loom launch: " << launch::ShellJoin(cmd.argv) << "\n";
  out.flush();
  if (dry_run) return 0;
  return RunAndWait(cmd.argv, err);
}

}  // namespace cli
}  // namespace loom
