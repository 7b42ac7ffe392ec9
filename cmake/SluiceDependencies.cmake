# Finds every third-party dependency. All come from Debian bookworm packages.
# CAF 0.17.6 ships no CMake package, so it is located by hand.

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIB caf_core REQUIRED)
find_library(CAF_IO_LIB caf_io REQUIRED)
if(NOT TARGET CAF::core)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION ${CAF_CORE_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION ${CAF_IO_LIB}
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()

find_package(Protobuf REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark QUIET)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)

# tcmalloc: the example runs about 1.8x faster than with glibc malloc
# (docs/BENCHMARKS.md). Linked into executables only.
pkg_check_modules(TCMALLOC IMPORTED_TARGET libtcmalloc_minimal)
add_library(sluice_allocator INTERFACE)
if(TCMALLOC_FOUND AND NOT SLUICE_SANITIZE) # ASan brings its own allocator
  target_link_libraries(sluice_allocator INTERFACE PkgConfig::TCMALLOC)
endif()
