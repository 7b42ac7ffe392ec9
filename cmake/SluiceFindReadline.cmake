# GNU readline (Debian's libreadline-dev) has no CMake package: find its
# header and library and define Readline::Readline, for `sluice console`.
# Also installed beside SluiceConfig.cmake: sluice::cli links it.
find_path(READLINE_INCLUDE_DIR readline/readline.h REQUIRED)
find_library(READLINE_LIBRARY readline REQUIRED)
if(NOT TARGET Readline::Readline)
  add_library(Readline::Readline UNKNOWN IMPORTED)
  set_target_properties(Readline::Readline PROPERTIES
    IMPORTED_LOCATION ${READLINE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${READLINE_INCLUDE_DIR})
endif()
