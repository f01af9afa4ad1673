# Runs at install time (install(SCRIPT)): the systemd unit names the
# installed isensd and configuration, so both follow the install prefix.
# /usr puts the configuration in /etc, as GNUInstallDirs does.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(ISENS_SYSCONFDIR /etc)
else()
  set(ISENS_SYSCONFDIR ${CMAKE_INSTALL_PREFIX}/etc)
endif()
set(ISENS_BINDIR ${CMAKE_INSTALL_PREFIX}/bin)
set(ISENS_DOCDIR ${CMAKE_INSTALL_PREFIX}/${ISENS_DOCDIR_RELATIVE})
# One staging file per destination: installs to two prefixes at once (a
# cpack beside a `cmake --install`, as the tests do) never share one.
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(unit ${ISENS_STAGING_DIR}/unit-${destination}/isensd.service)
configure_file(${ISENS_DIST_DIR}/isensd.service.in ${unit} @ONLY)
file(INSTALL DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system TYPE FILE FILES ${unit})
file(INSTALL DESTINATION ${ISENS_SYSCONFDIR}/isens TYPE FILE FILES ${ISENS_DIST_DIR}/isensd.toml)
