# Finds every external dependency once, as imported targets. Missing required ones fail loudly
# with the Debian package that provides them (scripts/install-deps.sh installs all of them).
find_package(Threads REQUIRED)

find_package(TBB CONFIG)
if(NOT TBB_FOUND)
  message(FATAL_ERROR "oneTBB not found: install Debian's libtbb-dev (scripts/install-deps.sh)")
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
    set(LOOM_CUDA_ENABLED ON)
  elseif(LOOM_USE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LOOM_USE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
