# BLAS/LAPACK: OpenBLAS through CBLAS, plus LAPACKE.
#
# Debian ships OpenBLAS in a pthread and an OpenMP flavour behind update-alternatives. We
# prefer the OpenMP flavour: inside our own OpenMP loops over samples it runs single-threaded
# by itself, so per-sample LAPACK calls never oversubscribe the cores. We link it by path and
# record an old-style RPATH (transitive, unlike RUNPATH) so that liblapacke's own libblas and
# liblapack dependencies resolve to the same flavour: one OpenBLAS per process.
include(GNUInstallDirs)
set(_blorc_multiarch "${CMAKE_LIBRARY_ARCHITECTURE}")
set(BLORC_OPENBLAS_DIR "/usr/lib/${_blorc_multiarch}/openblas-openmp"
    CACHE PATH "Folder holding the OpenBLAS flavour to link (libopenblas, libblas, liblapack)")

find_library(BLORC_OPENBLAS_LIB NAMES openblas PATHS "${BLORC_OPENBLAS_DIR}" NO_DEFAULT_PATH)
if(BLORC_OPENBLAS_LIB)
  set(BLORC_BLAS_FLAVOUR "OpenBLAS (OpenMP)")
  find_path(BLORC_CBLAS_INCLUDE cblas.h
            PATHS "/usr/include/${_blorc_multiarch}/openblas-openmp" NO_DEFAULT_PATH)
else()
  find_library(BLORC_OPENBLAS_LIB NAMES openblas REQUIRED)
  set(BLORC_BLAS_FLAVOUR "OpenBLAS")
  find_path(BLORC_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas REQUIRED)
endif()
find_library(BLORC_LAPACKE_LIB NAMES lapacke REQUIRED)
find_path(BLORC_LAPACKE_INCLUDE lapacke.h PATH_SUFFIXES lapacke REQUIRED)

add_library(blorc_blas INTERFACE)
target_include_directories(blorc_blas SYSTEM INTERFACE "${BLORC_CBLAS_INCLUDE}" "${BLORC_LAPACKE_INCLUDE}")
# OpenBLAS first, so its LAPACK symbols win over any reference LAPACK that lapacke pulls in.
target_link_libraries(blorc_blas INTERFACE "${BLORC_OPENBLAS_LIB}" "${BLORC_LAPACKE_LIB}" m)
get_filename_component(_blorc_blas_dir "${BLORC_OPENBLAS_LIB}" DIRECTORY)
target_link_options(blorc_blas INTERFACE "LINKER:--disable-new-dtags" "LINKER:-rpath,${_blorc_blas_dir}")
message(STATUS "blorc: BLAS ${BLORC_BLAS_FLAVOUR}: ${BLORC_OPENBLAS_LIB}; LAPACKE: ${BLORC_LAPACKE_LIB}")
