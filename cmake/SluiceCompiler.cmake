# Compiler settings shared by every Sluice target: warnings as errors for our
# own code (generated protobuf code is exempt), ccache, optional sanitizers.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# SLUICE_SANITIZE: OFF, `address` (ASan+UBSan; ON is the same, kept for old
# build trees) or `thread` (TSan). One build tree per value: they cannot mix.
set(SLUICE_SANITIZE OFF CACHE STRING "OFF, address (ASan+UBSan; ON) or thread (TSan)")
set_property(CACHE SLUICE_SANITIZE PROPERTY STRINGS OFF address ON thread)
option(SLUICE_WERROR "Treat warnings as errors" ON)

add_library(sluice_warnings INTERFACE)
target_compile_options(sluice_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(SLUICE_WERROR)
  target_compile_options(sluice_warnings INTERFACE -Werror)
endif()
# -DCMAKE_UNITY_BUILD=ON (scripts/test.sh's sanitizer builds, and build/ in
# CI: each unity file parses CAF's headers once for many sources) makes
# every source an included file, where GCC flags a test fixture in an
# anonymous namespace (-Wsubobject-linkage); in a unity file that is no
# hazard. File-local names
# must then differ within a component: a clash is a compile error there.
if(CMAKE_UNITY_BUILD)
  target_compile_options(sluice_warnings INTERFACE -Wno-subobject-linkage)
endif()

string(TOLOWER "${SLUICE_SANITIZE}" _sluice_sanitize)
if(_sluice_sanitize STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(_sluice_sanitize MATCHES "^(address|on|1|yes|true)$")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT _sluice_sanitize MATCHES "^(off|0|no|false|)$")
  message(FATAL_ERROR "SLUICE_SANITIZE=${SLUICE_SANITIZE}: use OFF, address (or ON) or thread")
endif()
