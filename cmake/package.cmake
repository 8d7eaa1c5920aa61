# Installing A-IO (`make install`, i.e. `cmake --install build --component aio`) and its Debian package
# (`make package`, CPack's DEB generator): everything aio reads at run time goes to <prefix>/share/aio, the layout the
# build tree already has (src/util/data_dir.h), so nothing installed points into a build tree.
# Only the `aio` component is installed and packaged: llama.cpp is linked into the binary statically and its own
# install rules (libraries, headers) are not ours to ship.

set(AIO_PKG_DIR ${PROJECT_SOURCE_DIR}/packaging)

# The binary and its data.
install(TARGETS aio RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT aio)
install(FILES ${AIO_BUILD_DATA_DIR}/probe/aio-probe.bin ${AIO_BUILD_DATA_DIR}/probe/aio-probe.bin.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/aio/probe COMPONENT aio)
if(AIO_DEFAULT_TOKENIZER_DIR)
  install(DIRECTORY ${AIO_BUILD_DATA_DIR}/tokenizer DESTINATION ${CMAKE_INSTALL_DATADIR}/aio COMPONENT aio)
endif()
# Example configs and policies, the Grafana board and a Prometheus scrape config.
install(FILES ${PROJECT_SOURCE_DIR}/configs/aio.yaml ${PROJECT_SOURCE_DIR}/configs/policies.yaml
              ${PROJECT_SOURCE_DIR}/configs/scenarios.yaml ${PROJECT_SOURCE_DIR}/configs/pool-large.example.yaml
              ${PROJECT_SOURCE_DIR}/configs/pool-mixed.example.yaml ${PROJECT_SOURCE_DIR}/configs/remote-large.example.yaml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/aio/configs COMPONENT aio)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/grafana ${PROJECT_SOURCE_DIR}/configs/prometheus
        DESTINATION ${CMAKE_INSTALL_DATADIR}/aio COMPONENT aio)

# The service: its unit, its config (/etc/aio/aio.yaml, what `aio config init` writes for models in
# /var/lib/aio/models) and its settings (/etc/default/aio). /etc for a /usr prefix (GNUInstallDirs).
install(FILES ${AIO_PKG_DIR}/aio.service DESTINATION lib/systemd/system COMPONENT aio)
install(FILES ${AIO_PKG_DIR}/aio.yaml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/aio COMPONENT aio)
install(FILES ${AIO_PKG_DIR}/default DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default RENAME aio COMPONENT aio)

# Documentation: the README, the changelog, the guides, the probe's data sources, the man page (from `aio --help`).
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${AIO_PKG_DIR}/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT aio)
install(FILES ${PROJECT_SOURCE_DIR}/data/probe/SOURCES.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME probe-sources.md
        COMPONENT aio)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT aio
        FILES_MATCHING PATTERN "*.md" PATTERN "screenshots" EXCLUDE)
find_program(AIO_HELP2MAN help2man REQUIRED)
set(AIO_MANPAGE ${CMAKE_BINARY_DIR}/man/aio.1.gz)
add_custom_command(
  OUTPUT ${AIO_MANPAGE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND ${AIO_HELP2MAN} --no-info --no-discard-stderr --section 1 --include ${AIO_PKG_DIR}/aio.h2m
          --name "request-aware LLM serving over co-resident models" --output ${CMAKE_BINARY_DIR}/man/aio.1 $<TARGET_FILE:aio>
  COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/aio.1
  DEPENDS aio ${AIO_PKG_DIR}/aio.h2m
  COMMENT "Writing the aio(1) man page from aio --help")
add_custom_target(aio-manpage ALL DEPENDS ${AIO_MANPAGE})
install(FILES ${AIO_MANPAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT aio)

# The Debian package: aio_<version>_<arch>.deb. Library dependencies come from dpkg-shlibdeps; the rest is what aio
# runs: bubblewrap and python3 (`aio score` runs generated code in its sandbox), adduser (the service's user).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aio)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "A-IO maintainers <aio@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "request-aware LLM serving over co-resident models (OpenAI-compatible API)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "A-IO serves LLM requests with two or more models of different sizes resident at once and decides per request\n"
       "which model answers and how it decodes: a probe senses each request's intent (code, QA, math), a policy routes\n"
       "it, and prompt-lookup or draft-model speculative decoding is picked per request. Built on llama.cpp; serves an\n"
       "OpenAI-compatible HTTP API with a live dashboard, and reproduces the A-IO paper's experiments.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL aio)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, bubblewrap, python3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "curl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${AIO_PKG_DIR}/debian/conffiles ${AIO_PKG_DIR}/debian/postinst
                                       ${AIO_PKG_DIR}/debian/prerm ${AIO_PKG_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/package)
include(CPack)
