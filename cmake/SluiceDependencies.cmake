# Finds every third-party dependency. All come from Debian bookworm packages.
# CAF 0.17.6 and cpp-httplib 0.11 ship no CMake package, so they are located
# by hand.

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

find_package(OpenSSL REQUIRED) # HMAC-SHA256, TLS (CAF::openssl, HTTPS)
if(_sluice_sanitize STREQUAL "thread")
  include(SluiceCafTsan) # CAF::core, io and openssl built from Debian's source with TSan
endif()
include(SluiceFindCAF)
include(SluiceFindHttplib) # httplib::httplib, for `sluice run --http`
include(SluiceFindReadline) # Readline::Readline, for `sluice console`

find_package(Protobuf REQUIRED)
# Change feeds over gRPC (--grpc): Debian's libgrpc++-dev and
# protobuf-compiler-grpc (grpc_cpp_plugin).
find_package(gRPC CONFIG REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark QUIET)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# PostgreSQL change capture (sources:): Debian's libpq-dev.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)

# tcmalloc: the example runs about 1.8x faster than with glibc malloc
# (docs/BENCHMARKS.md). Linked into executables only.
pkg_check_modules(TCMALLOC IMPORTED_TARGET libtcmalloc_minimal)
add_library(sluice_allocator INTERFACE)
if(TCMALLOC_FOUND AND NOT SLUICE_SANITIZE) # ASan and TSan bring their own allocator
  target_link_libraries(sluice_allocator INTERFACE PkgConfig::TCMALLOC)
endif()
