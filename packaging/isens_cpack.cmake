# Two Debian packages from one build (CPack's DEB generator, one package per
# install component):
#   isens      isensd, isensctl, the unit, /etc/isens/isensd.toml, man pages,
#              bash completion; runtime dependencies from dpkg-shlibdeps
#   isens-dev  headers, static libraries, isensConfig.cmake, isens.pc: the
#              plugin SDK; depends on the isens it builds plugins for
# `cpack -G DEB` in the build directory (or scripts/package) writes both.
set(CPACK_PACKAGE_NAME isens)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "isens maintainers <isens@localhost>")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before each
# package's own first line (the synopsis) below.
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL daemon dev)  # never a helper's stray "Unspecified" rule
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # isens_0.1.0_amd64.deb, as dpkg names them
# Installed with DESTDIR and the prefix /usr, so /etc/isens (an absolute
# path) and the unit land inside the package, never on the build machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # debug info would make the package ten times the size
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # fast to build in the test; xz saves little here

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME isens)
set(CPACK_DEBIAN_DAEMON_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_DAEMON_DESCRIPTION "user-space iSCSI initiator service with SENS-style session events
isensd logs in to iSCSI targets, keeps sessions alive, recovers persistent
sessions and raises Windows-SENS-style events (logon, session_disconnect,
...) to subscribers and plugins; isensctl drives it.")
# Declared, not guessed: dpkg-shlibdeps reads the binaries' NEEDED entries.
set(CPACK_DEBIAN_DAEMON_PACKAGE_SHLIBDEPS ON)
# /etc/isens/isensd.toml is the admin's: dpkg keeps local edits on upgrade.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/conffiles "/etc/isens/isensd.toml\n")
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/conffiles)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME isens-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "isens plugin SDK: headers, static libraries, CMake package
find_package(isens) gives isens::events (with the plugin ABI header),
isens::initiator and isens::subscribers; isens.pc for pkg-config.")
# The headers' dependencies (Boost.Asio, nlohmann-json) and spdlog, which the
# static libraries link; a plugin must match the isensd that loads it.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "isens (= ${PROJECT_VERSION}), libboost1.81-dev, nlohmann-json3-dev, libspdlog-dev")

include(CPack)
