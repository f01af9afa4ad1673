# The SDK: `cmake --install` puts the public headers, the static libraries,
# isensConfig.cmake with its version file and the exported targets
# (isens::events, isens::initiator, isens::subscribers) and isens.pc in the
# standard places, as spdlog and Catch2 do. A plugin author then needs only
# find_package(isens) (see examples/plugins/run_command_on_disconnect).
# Everything here is the "dev" component (the isens-dev Debian package).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ISENS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/isens CACHE STRING "Where isensConfig.cmake is installed")

# The exported names drop the isens_ prefix: isens_events is isens::events,
# as the alias targets of the build tree are.
set_target_properties(isens_events PROPERTIES EXPORT_NAME events)
set_target_properties(isens_initiator PROPERTIES EXPORT_NAME initiator)
set_target_properties(isens_subscribers PROPERTIES EXPORT_NAME subscribers)
# Private to isens::initiator, but a static library's private dependencies
# are linked by its users too, so it is installed (no headers of its own).
set_target_properties(isens_initiator_protocol PROPERTIES EXPORT_NAME initiator_protocol)

install(TARGETS isens_events isens_initiator isens_initiator_protocol isens_subscribers
  EXPORT isensTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# `cmake --install --strip` and CPack (CPACK_STRIP_FILES) strip executables
# only; the archives' debug info would make isens-dev ten times its size.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  foreach(archive isens_events isens_initiator isens_initiator_protocol isens_subscribers)
    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
                    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/lib\${archive}.a\")
  endforeach()
endif()" COMPONENT dev)
# Public headers only: each component's include/ holds isens/<component>/,
# the plugin ABI header (isens/events/plugin_api.hpp) among them.
install(DIRECTORY
    ${PROJECT_SOURCE_DIR}/events/include/
    ${PROJECT_SOURCE_DIR}/initiator/include/
    ${PROJECT_SOURCE_DIR}/subscribers/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT isensTargets NAMESPACE isens:: DESTINATION ${ISENS_INSTALL_CMAKEDIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/isensConfig.cmake.in
  ${PROJECT_BINARY_DIR}/isensConfig.cmake INSTALL_DESTINATION ${ISENS_INSTALL_CMAKEDIR})
# SameMajorVersion: find_package(isens 0.1) accepts any 0.y >= 0.1. That is
# about the source API; a plugin binary built against other headers is
# refused when isensd loads it (plugin_abi_version, plugin_api.hpp).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/isensConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/isensConfig.cmake ${PROJECT_BINARY_DIR}/isensConfigVersion.cmake
  DESTINATION ${ISENS_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config, for builds that do not use CMake.
file(RELATIVE_PATH isens_pc_to_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${PROJECT_SOURCE_DIR}/cmake/isens.pc.in ${PROJECT_BINARY_DIR}/isens.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/isens.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The example plugin's source, to copy and start from (it builds against
# this installed SDK with find_package(isens) alone).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/plugins/run_command_on_disconnect
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/isens-dev/examples COMPONENT dev)
