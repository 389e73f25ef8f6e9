# Finds every external dependency once, as imported targets. Missing required ones fail loudly
# with the Debian package that provides them (scripts/install-deps.sh installs all of them).
find_package(Threads REQUIRED)

find_package(TBB CONFIG)
if(NOT TBB_FOUND)
  message(FATAL_ERROR "oneTBB not found: install Debian's libtbb-dev (scripts/install-deps.sh)")
endif()

# CPU kernels: OpenBLAS (cblas) for dense work, oneDNN for convolutions. Debian's oneDNN uses the
# OpenMP runtime; Loom sets its thread count per call (docs/kernels.md), hence OpenMP.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(LOOM_OPENBLAS QUIET IMPORTED_TARGET GLOBAL openblas)
endif()
if(NOT TARGET PkgConfig::LOOM_OPENBLAS)
  message(FATAL_ERROR "OpenBLAS not found: install Debian's libopenblas-dev and pkg-config "
                      "(scripts/install-deps.sh)")
endif()
# Debian's dnnl-config.cmake insists on OpenCL development files (its GPU runtime), so oneDNN's
# header and library are found directly and wrapped in the DNNL::dnnl target its config would make.
find_path(LOOM_DNNL_INCLUDE_DIR dnnl.hpp)
find_library(LOOM_DNNL_LIBRARY dnnl)
if(NOT LOOM_DNNL_INCLUDE_DIR OR NOT LOOM_DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: install Debian's libdnnl-dev (scripts/install-deps.sh)")
endif()
if(NOT TARGET DNNL::dnnl)
  add_library(DNNL::dnnl UNKNOWN IMPORTED GLOBAL)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${LOOM_DNNL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${LOOM_DNNL_INCLUDE_DIR}")
endif()
file(STRINGS "${LOOM_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _loom_dnnl_version
     REGEX "#define DNNL_VERSION_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3"
       dnnl_VERSION "${_loom_dnnl_version}")
find_package(OpenMP COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  message(FATAL_ERROR "OpenMP not found: it comes with GCC (libgomp); install Debian's g++")
endif()

# Training (launcher/): the experiment schema and checkpoints are protobuf messages, experiments are
# YAML files, idx data may be gzip-compressed.
find_package(Protobuf)
if(NOT Protobuf_FOUND OR NOT Protobuf_PROTOC_EXECUTABLE)
  message(FATAL_ERROR "Protocol Buffers not found: install Debian's libprotobuf-dev and "
                      "protobuf-compiler (scripts/install-deps.sh)")
endif()
find_package(yaml-cpp CONFIG)
if(NOT yaml-cpp_FOUND)
  message(FATAL_ERROR "yaml-cpp not found: install Debian's libyaml-cpp-dev (scripts/install-deps.sh)")
endif()
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zlib not found: install Debian's zlib1g-dev (scripts/install-deps.sh)")
endif()

if(LOOM_USE_MPI)
  find_package(MPI COMPONENTS CXX)
  if(NOT MPI_CXX_FOUND)
    message(FATAL_ERROR "LOOM_USE_MPI=ON but MPI was not found: install libopenmpi-dev openmpi-bin "
                        "(scripts/install-deps.sh) or configure with -DLOOM_USE_MPI=OFF")
  endif()
endif()

if(LOOM_BUILD_TESTS)
  find_package(GTest CONFIG)
  if(NOT GTest_FOUND)
    find_package(GTest)
  endif()
  if(NOT TARGET GTest::gtest_main)
    message(FATAL_ERROR "GoogleTest not found: install libgtest-dev (scripts/install-deps.sh)")
  endif()
endif()

if(LOOM_BUILD_BENCH)
  find_package(benchmark CONFIG)
endif()

# CUDA: AUTO turns it on when nvcc exists (also at /usr/local/cuda when not on PATH).
set(LOOM_CUDA_ENABLED OFF)
if(NOT LOOM_USE_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper (H100/H200) natively, plus PTX for anything newer.
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    # cuDNN (convolution, pooling, normalisation, RNN kernels): in the toolkit's folders or CUDNN_ROOT.
    find_path(LOOM_CUDNN_INCLUDE_DIR cudnn.h
              HINTS ${CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
    find_library(LOOM_CUDNN_LIBRARY cudnn
                 HINTS ${CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64)
    if(LOOM_CUDNN_INCLUDE_DIR AND LOOM_CUDNN_LIBRARY)
      add_library(loom_cudnn INTERFACE)
      target_include_directories(loom_cudnn INTERFACE ${LOOM_CUDNN_INCLUDE_DIR})
      target_link_libraries(loom_cudnn INTERFACE ${LOOM_CUDNN_LIBRARY})
      set(LOOM_CUDNN_INCLUDE_DIR ${LOOM_CUDNN_INCLUDE_DIR} PARENT_SCOPE)
      set(LOOM_CUDA_ENABLED ON)
    elseif(LOOM_USE_CUDA STREQUAL "ON")
      message(FATAL_ERROR "LOOM_USE_CUDA=ON but cuDNN (cudnn.h, libcudnn) was not found: "
                          "install it or set CUDNN_ROOT")
    else()
      message(WARNING "nvcc found but cuDNN is missing (set CUDNN_ROOT): building without CUDA")
    endif()
  elseif(LOOM_USE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LOOM_USE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# Adds sources that use CUDA's headers to `target`: the include directories (CUDA's and INCLUDES)
# go on those files only and the libraries (LIBS) are link-only, so that the target's other files
# compile exactly as in a build without CUDA and both builds share ccache's objects.
#   loom_add_cuda_sources(loom_core SOURCES src/cuda/cuda_memory.cc LIBS CUDA::cudart)
function(loom_add_cuda_sources target)
  cmake_parse_arguments(ARG "" "" "SOURCES;INCLUDES;LIBS" ${ARGN})
  target_sources(${target} PRIVATE ${ARG_SOURCES})
  set_property(SOURCE ${ARG_SOURCES} APPEND PROPERTY INCLUDE_DIRECTORIES
               ${CUDAToolkit_INCLUDE_DIRS} ${ARG_INCLUDES})
  foreach(lib ${ARG_LIBS})
    target_link_libraries(${target} PRIVATE $<LINK_ONLY:${lib}>)
  endforeach()
endfunction()
