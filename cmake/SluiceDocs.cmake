# API reference from the `///` comments of the installed public headers
# (exactly those SluiceInstall.cmake installs: the list in
# SluicePublicHeaders.cmake), with Doxygen from Debian's package. Not part
# of ALL:
#
#   cmake --build build --target docs   -> build/docs/api/index.html
#
# Warnings (undocumented public items, bad doc commands) go to
# build/docs/doxygen-warnings.log and are printed after the run; the test
# docs.PublicHeadersAreFullyDocumented fails when there are any.

find_package(Doxygen QUIET)
# What the test runs; a missing doxygen makes it fail with a clear message.
if(DOXYGEN_FOUND)
  set(SLUICE_DOXYGEN ${DOXYGEN_EXECUTABLE})
else()
  set(SLUICE_DOXYGEN doxygen)
endif()

include(SluicePublicHeaders)
set(SLUICE_DOCS_DIR ${PROJECT_BINARY_DIR}/docs)
set(SLUICE_DOCS_DOXYFILE ${SLUICE_DOCS_DIR}/Doxyfile)
set(SLUICE_DOCS_WARN_LOG ${SLUICE_DOCS_DIR}/doxygen-warnings.log)

# Values for docs/api/Doxyfile.in (space-separated, quoted for Doxygen):
# the headers as input, their include/ folders to name them by.
set(SLUICE_DOCS_OUTPUT_DIR "\"${SLUICE_DOCS_DIR}\"")
list(JOIN SLUICE_PUBLIC_HEADERS "\" \"" SLUICE_DOCS_INPUT)
set(SLUICE_DOCS_INPUT "\"${SLUICE_DOCS_INPUT}\"")
list(JOIN SLUICE_PUBLIC_INCLUDE_DIRS "\" \"" SLUICE_DOCS_INCLUDE_PATH)
set(SLUICE_DOCS_INCLUDE_PATH "\"${SLUICE_DOCS_INCLUDE_PATH}\"")
set(SLUICE_DOCS_WARN_LOG_QUOTED "\"${SLUICE_DOCS_WARN_LOG}\"")
configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in
  ${SLUICE_DOCS_DOXYFILE} @ONLY)

if(DOXYGEN_FOUND)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SLUICE_DOCS_DIR}
    COMMAND ${DOXYGEN_EXECUTABLE} ${SLUICE_DOCS_DOXYFILE}
    COMMAND ${CMAKE_COMMAND} -E cat ${SLUICE_DOCS_WARN_LOG}
    COMMAND ${CMAKE_COMMAND} -E echo
            "docs: ${SLUICE_DOCS_DIR}/api/index.html (warnings above, if any)"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Doxygen: API reference of the public headers"
    VERBATIM)
else()
  message(STATUS "doxygen not found: the docs target only says so "
                 "(scripts/setup.sh installs it)")
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "docs: doxygen not found; install it"
            "(scripts/setup.sh does) and re-run cmake"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
