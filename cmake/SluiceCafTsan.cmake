# SLUICE_SANITIZE=thread only: builds CAF's core, io and openssl from
# Debian's own source of the installed version (scripts/fetch-caf-source.sh)
# as static libraries with -fsanitize=thread and makes CAF::core, CAF::io and
# CAF::openssl use them, so TSan sees CAF's mailbox synchronization. Other
# builds never include this.
#
# CAF's sources compile against the installed headers (/usr/include), the very
# headers our code compiles against: the ABI agrees by construction. The
# source tree's own headers are identical except the generated
# caf/detail/build_config.hpp, which only the installed tree has.

set(SLUICE_CAF_SOURCE_DIR "${CMAKE_BINARY_DIR}/caf-src" CACHE PATH
  "Where scripts/fetch-caf-source.sh puts Debian's CAF source (TSan build)")
execute_process(
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/fetch-caf-source.sh ${SLUICE_CAF_SOURCE_DIR}
  RESULT_VARIABLE _sluice_caf_fetch)
if(_sluice_caf_fetch)
  message(FATAL_ERROR "SLUICE_SANITIZE=thread needs Debian's CAF source: "
    "scripts/fetch-caf-source.sh ${SLUICE_CAF_SOURCE_DIR} failed (see above)")
endif()
set(_caf_src ${SLUICE_CAF_SOURCE_DIR}/actor-framework-0.17.6)
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_package(Threads REQUIRED)

# Every .cpp under src/ is exactly the list upstream's CMakeLists.txt gives.
function(_sluice_caf_library name dir)
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${_caf_src}/${dir}/src/*.cpp)
  add_library(${name} STATIC ${_srcs})
  # C++17, no -Werror, warnings off: CAF's code is not ours to lint. The
  # sanitizer flags come from the global flags.
  # Never a unity build: CAF's sources repeat file-local names.
  set_target_properties(${name} PROPERTIES CXX_STANDARD 17 CXX_EXTENSIONS OFF
    CXX_CLANG_TIDY "" POSITION_INDEPENDENT_CODE ON UNITY_BUILD OFF)
  # -O1 -g1 (after the global -O2 -g, so they win): CAF is half the TSan
  # build, and line tables are all a race report's stacks need.
  target_compile_options(${name} PRIVATE -w -O1 -g1)
  target_include_directories(${name} SYSTEM PRIVATE ${CAF_INCLUDE_DIR})
  target_link_libraries(${name} PUBLIC Threads::Threads)
endfunction()
_sluice_caf_library(sluice_caf_core_tsan libcaf_core)
_sluice_caf_library(sluice_caf_io_tsan libcaf_io)
target_link_libraries(sluice_caf_io_tsan PUBLIC sluice_caf_core_tsan)
_sluice_caf_library(sluice_caf_openssl_tsan libcaf_openssl)
target_link_libraries(sluice_caf_openssl_tsan PUBLIC sluice_caf_io_tsan
  OpenSSL::SSL OpenSSL::Crypto)

# Imported interface targets (not aliases): installed export sets name them as
# CAF::core / CAF::io, as in the normal build.
add_library(CAF::core INTERFACE IMPORTED)
set_target_properties(CAF::core PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES sluice_caf_core_tsan)
add_library(CAF::io INTERFACE IMPORTED)
set_target_properties(CAF::io PROPERTIES INTERFACE_LINK_LIBRARIES "sluice_caf_io_tsan;CAF::core")
add_library(CAF::openssl INTERFACE IMPORTED)
set_target_properties(CAF::openssl PROPERTIES INTERFACE_LINK_LIBRARIES "sluice_caf_openssl_tsan;CAF::io")
