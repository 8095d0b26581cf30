# Install layout and the Debian package (cpack -G DEB).
#
#   cmake --install build --prefix /usr      # binaries, units, config, docs
#   (cd build && cpack -G DEB)               # build/spanvault_<version>_amd64.deb
#
# The package's maintainer scripts (packaging/deb/) create the `spanvault`
# system user and group and enable spanvault.socket.
# A system daemon: /usr (with /etc for the config) unless told otherwise.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "Install prefix" FORCE)
endif()
include(GNUInstallDirs)

install(TARGETS spanvaultd spanvault RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The units name the daemon by its installed path.
set(SV_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SV_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/systemd/spanvault.service
  ${CMAKE_CURRENT_BINARY_DIR}/systemd/spanvault.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/systemd/spanvault.service systemd/spanvault.socket
  DESTINATION lib/systemd/system)
install(FILES etc/spanvault.toml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/spanvault)
# net.unix.max_dgram_qlen = 512 (the kernel's 10 makes datagram senders block
# or drop); applied by the package's postinst and at every boot.
install(FILES packaging/sysctl/60-spanvault.conf DESTINATION lib/sysctl.d)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES cost/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME README.cost.md)
install(FILES cost/builtin_prices.json DESTINATION ${CMAKE_INSTALL_DATADIR}/spanvault)

set(CPACK_PACKAGE_NAME spanvault)
set(CPACK_PACKAGE_VENDOR "spanvault")
set(CPACK_PACKAGE_CONTACT "spanvault maintainers <maintainers@spanvault.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "tracing sidecar for LLM applications: durable span buffer and forwarder")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb/postrm
  ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
