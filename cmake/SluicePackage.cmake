# The Debian packages: `cmake --build build --target package` makes
#  - sluice (component server): the `sluice` binary, the systemd unit
#    sluice-node@.service (one member per /etc/sluice/NAME.yaml, as the
#    `sluice` user made by postinst), an example settings file (a conffile),
#    man pages and bash completion made from --help (tools/package/
#    make_docs.py), the package_trust example and the operator docs;
#  - sluice-dev (component dev): the embedder API, libraries and CMake
#    package that `cmake --install` also installs.
# Runtime dependencies come from dpkg-shlibdeps. The server-only files are
# EXCLUDE_FROM_ALL: a plain `cmake --install --prefix DIR` stays
# unprivileged (it would otherwise write /etc/sluice).
include_guard(GLOBAL)
include(GNUInstallDirs)

find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(SLUICE_PACKAGE_DIR ${PROJECT_SOURCE_DIR}/tools/package)
set(SLUICE_PACKAGE_DOCS ${PROJECT_BINARY_DIR}/package)
add_custom_command(
  OUTPUT ${SLUICE_PACKAGE_DOCS}/man/sluice.1.gz
         ${SLUICE_PACKAGE_DOCS}/completion/sluice
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${SLUICE_PACKAGE_DOCS}/man
  COMMAND Python3::Interpreter ${SLUICE_PACKAGE_DIR}/make_docs.py
          $<TARGET_FILE:sluice> ${PROJECT_VERSION} ${SLUICE_PACKAGE_DOCS}
  DEPENDS sluice ${SLUICE_PACKAGE_DIR}/make_docs.py
  COMMENT "Man pages and bash completion from sluice --help"
  VERBATIM)
add_custom_target(sluice_package_docs ALL
  DEPENDS ${SLUICE_PACKAGE_DOCS}/man/sluice.1.gz
          ${SLUICE_PACKAGE_DOCS}/completion/sluice)

install(DIRECTORY ${SLUICE_PACKAGE_DOCS}/man/
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${SLUICE_PACKAGE_DOCS}/completion/sluice
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${SLUICE_PACKAGE_DIR}/sluice-node@.service
  DESTINATION lib/systemd/system COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${SLUICE_PACKAGE_DIR}/example.yaml
  DESTINATION /etc/sluice COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/examples/package_trust/pipeline.yaml
              ${PROJECT_SOURCE_DIR}/examples/package_trust/README.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/examples/package_trust
  COMPONENT server EXCLUDE_FROM_ALL)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/package_trust/data
  DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/examples/package_trust
  COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
              ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md
              ${PROJECT_SOURCE_DIR}/docs/CONSOLE.md
              ${PROJECT_SOURCE_DIR}/docs/EMBEDDING.md
              ${SLUICE_PACKAGE_DIR}/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sluice
  COMPONENT server EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Sluice maintainers <sluice@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "actor runtime for event-driven data pipelines")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME sluice)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_DESCRIPTION
    "Pipeline stages whose keys are supervised actors, LMDB checkpoints,
mailbox priorities and a replicated cluster. Members run as systemd
services: sluice-node@NAME reads /etc/sluice/NAME.yaml.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${SLUICE_PACKAGE_DIR}/postinst;${SLUICE_PACKAGE_DIR}/postrm;${SLUICE_PACKAGE_DIR}/conffiles")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME sluice-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libcaf-dev, libprotobuf-dev, protobuf-compiler, liblmdb-dev, libspdlog-dev, libyaml-cpp-dev, libxxhash-dev, nlohmann-json3-dev, libssl-dev, libpq-dev, libgoogle-perftools-dev, libgrpc++-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "The embedder API of Sluice: headers, libraries and the CMake package
for find_package(Sluice).")
include(CPack)
