# Files compiled into a binary as byte arrays (the dashboard's page and its
# assets): no files to install, nothing fetched at run time.
#
#   sluice_embed_files(OUTPUT gen.cpp FUNCTION ns::find_asset
#                      FILES name1 path1 name2 path2 ...)
#     -> gen.cpp defines `const embedded_file* FUNCTION(
#        std::string_view name)` (embedded_file.hpp beside the caller) over the files, regenerated when one of
#        them changes. Declare the function where it is used.

set(SLUICE_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/SluiceEmbedRun.cmake)

function(sluice_embed_files)
  cmake_parse_arguments(E "" "OUTPUT;FUNCTION" "FILES" ${ARGN})
  set(paths "")
  set(pairs "")
  list(LENGTH E_FILES n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET E_FILES ${i} name)
    list(GET E_FILES ${j} path)
    list(APPEND paths ${path})
    string(APPEND pairs "${name}=${path};")
  endforeach()
  add_custom_command(OUTPUT ${E_OUTPUT}
    COMMAND ${CMAKE_COMMAND} "-DOUTPUT=${E_OUTPUT}" "-DFUNCTION=${E_FUNCTION}"
            "-DPAIRS=${pairs}" -P ${SLUICE_EMBED_SCRIPT}
    DEPENDS ${paths} ${SLUICE_EMBED_SCRIPT}
    COMMENT "Embedding ${n} files into ${E_OUTPUT}" VERBATIM)
endfunction()
