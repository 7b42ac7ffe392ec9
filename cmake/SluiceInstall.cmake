# `cmake --install`: the public headers (the embedder API, and nothing
# else), the libraries, the `sluice` executable and a CMake package
# (SluiceConfig.cmake, its version file and the exported targets
# sluice::protocols, ::feed_grpc, ::runtime, ::actors, ::cluster, ::cli), so that
# find_package(Sluice 0.1 REQUIRED) works from an unrelated project.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SLUICE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sluice)
foreach(c protocols feed_grpc runtime actors cluster cli warnings)
  set_target_properties(sluice_${c} PROPERTIES EXPORT_NAME ${c})
endforeach()

install(TARGETS sluice_protocols sluice_feed_grpc sluice_runtime sluice_actors sluice_cluster sluice_cli
                sluice_warnings
  EXPORT SluiceTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT server)
# The embedder API only (cmake/SluicePublicHeaders.cmake), each under the
# path it is included by; internal/ and src/ headers stay in the tree.
include(SluicePublicHeaders)
foreach(header ${SLUICE_PUBLIC_HEADERS})
  string(REGEX REPLACE "^.*/include/(.*)/[^/]+$" "\\1" dir ${header})
  install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir}
    COMPONENT dev)
endforeach()
# The wire and store schemas, and their generated headers.
install(DIRECTORY ${PROJECT_BINARY_DIR}/protocols/sluice
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.pb.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/protocols/sluice
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.proto")

install(EXPORT SluiceTargets NAMESPACE sluice:: DESTINATION ${SLUICE_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SluiceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SluiceConfig.cmake INSTALL_DESTINATION ${SLUICE_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SluiceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SluiceConfig.cmake
              ${PROJECT_BINARY_DIR}/SluiceConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/SluiceFindCAF.cmake
              ${PROJECT_SOURCE_DIR}/cmake/SluiceFindHttplib.cmake
              ${PROJECT_SOURCE_DIR}/cmake/SluiceFindReadline.cmake
  DESTINATION ${SLUICE_CMAKE_DIR} COMPONENT dev)
