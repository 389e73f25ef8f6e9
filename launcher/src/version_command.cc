// `loom version` (also `loom --version`): Loom's version, the libraries this build uses with
// their versions, and the GPUs this process can use.
#include <cblas.h>
#include <google/protobuf/stubs/common.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/tbb/version.h>

#include <iomanip>

#include "commands.h"
#include "loom/comm/library_versions.h"
#include "loom/core/device_info.h"
#include "loom/operators/library_versions.h"

namespace loom::cli {
namespace {

std::string OrNotBuilt(const std::string& version, const char* why) {
  return version.empty() ? std::string("not built (") + why + ")" : version;
}

}  // namespace

int Version(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty()) {
    err << "loom version: expected no arguments but got '" << args.front() << "'\n";
    return kExitFailure;
  }
  const dnnl_version_t* dnnl = dnnl_version();
  const int protobuf = GOOGLE_PROTOBUF_VERSION;
  auto row = [&](const char* name, const std::string& value) {
    out << "  " << std::left << std::setw(10) << name << value << "\n";
  };
  out << "loom " << LOOM_VERSION_STRING << "\n";
  row("CUDA", OrNotBuilt(CudaRuntimeVersion(), "configure with -DLOOM_USE_CUDA=ON where nvcc is"));
  row("cuDNN", OrNotBuilt(ops::CudnnVersion(), "needs CUDA"));
  row("cuBLAS", OrNotBuilt(ops::CublasVersion(), "needs CUDA"));
  row("NCCL", OrNotBuilt(comm::NcclVersion(), "needs CUDA and NCCL"));
  row("MPI", OrNotBuilt(comm::MpiLibraryVersion(), "configure with -DLOOM_USE_MPI=ON"));
  row("oneDNN", std::to_string(dnnl->major) + "." + std::to_string(dnnl->minor) + "." +
                    std::to_string(dnnl->patch));
  row("OpenBLAS", openblas_get_config());
  row("oneTBB", TBB_VERSION_STRING);
  row("protobuf", std::to_string(protobuf / 1000000) + "." +
                      std::to_string(protobuf / 1000 % 1000) + "." +
                      std::to_string(protobuf % 1000));
  const std::vector<std::string> gpus = GpuDescriptions();
  if (gpus.empty()) row("GPUs", "none found");
  for (const std::string& gpu : gpus) row("GPU", gpu);
  return 0;
}

}  // namespace loom::cli
