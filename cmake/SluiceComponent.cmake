# One helper defines a component and one registers its tests, so no
# component's CMake is copied from another's.
#
#   sluice_component(NAME runtime SOURCES ... DEPS ... [PRIVATE_DEPS ...])
#     -> library target sluice_<NAME>, alias sluice::<NAME>; public headers in
#        <folder>/include (the embedder API, installed), internal ones in
#        <folder>/internal (seen by the other components in the tree, never
#        installed), private ones in <folder>/src.
#   sluice_test(NAME runtime_tests SOURCES ... DEPS ...)
#     -> a GoogleTest executable whose tests ctest discovers.

include(GoogleTest)

function(sluice_component)
  cmake_parse_arguments(C "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(sluice_${C_NAME} ${C_SOURCES})
  add_library(sluice::${C_NAME} ALIAS sluice_${C_NAME})
  target_include_directories(sluice_${C_NAME}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  # Internal headers keep their "sluice/..." names, so moving one between
  # include/ and internal/ edits no #include; only the build tree sees them.
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/internal)
    target_include_directories(sluice_${C_NAME}
      PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/internal>)
  endif()
  target_link_libraries(sluice_${C_NAME} PUBLIC ${C_DEPS}
    PRIVATE sluice_warnings ${C_PRIVATE_DEPS})
  set_target_properties(sluice_${C_NAME} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

function(sluice_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;DEPS;INCLUDES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src ${T_INCLUDES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest_main sluice_warnings)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endfunction()
