# Install rules of the library (components: runtime = the shared library, dev = headers, static
# library, CMake package and zkrecipes.pc; tools/zkr adds `tool`), and the Debian packages made
# from them by `cpack -G DEB` (scripts/package.sh): libzkrecipes0, libzkrecipes-dev, zkr.
include(CMakePackageConfigHelpers)

install(TARGETS zkrecipes EXPORT zkrecipesTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY include/zkrecipes ${PROJECT_BINARY_DIR}/include/zkrecipes
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

set(ZKR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/zkrecipes)
install(EXPORT zkrecipesTargets NAMESPACE zkrecipes:: DESTINATION ${ZKR_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/zkrecipesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/zkrecipesConfig.cmake INSTALL_DESTINATION ${ZKR_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/zkrecipesConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/zkrecipesConfig.cmake
              ${PROJECT_BINARY_DIR}/zkrecipesConfigVersion.cmake
              cmake/FindZooKeeper.cmake
        DESTINATION ${ZKR_CMAKE_DIR} COMPONENT dev)

# pkg-config: the C client is a private dependency of a shared zkrecipes (Libs.private, for
# --static), but every consumer of a static one must link it.
get_filename_component(_zk_dir "${ZooKeeper_LIBRARY}" DIRECTORY)
get_filename_component(_zk_name "${ZooKeeper_LIBRARY}" NAME_WE)
string(REGEX REPLACE "^lib" "" _zk_name "${_zk_name}")
set(_zk_libs "-l${_zk_name} -pthread")
if(ZooKeeper_hashtable_LIBRARY AND ZooKeeper_LIBRARY MATCHES "\\.a$")
  set(_zk_libs "-l${_zk_name} -lhashtable -lm -pthread")
endif()
if(NOT _zk_dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  set(_zk_libs "-L${_zk_dir} ${_zk_libs}")
endif()
get_target_property(_zkr_type zkrecipes TYPE)
if(_zkr_type STREQUAL "SHARED_LIBRARY")
  set(ZKR_PC_LIBS "")
  set(ZKR_PC_LIBS_PRIVATE "${_zk_libs}")
else()
  set(ZKR_PC_LIBS "${_zk_libs}")
  set(ZKR_PC_LIBS_PRIVATE "")
endif()
# "../.." for lib/pkgconfig, "../../.." for lib/<multiarch>/pkgconfig.
string(REGEX REPLACE "[^/]+" ".." ZKR_PC_PREFIX_FROM_PCDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(cmake/zkrecipes.pc.in ${PROJECT_BINARY_DIR}/zkrecipes.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/zkrecipes.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

# Debian packages, one per component. Version pins keep the three from one build together.
set(CPACK_PACKAGE_NAME zkrecipes)
set(CPACK_PACKAGE_VENDOR "zkrecipes developers")
set(CPACK_PACKAGE_CONTACT "zkrecipes developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tool)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps resolves libzkrecipes.so.0, which zkr needs, from this build.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}")
set(_zkr_pin "libzkrecipes${PROJECT_VERSION_MAJOR} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "libzkrecipes${PROJECT_VERSION_MAJOR}")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "ZooKeeper recipes for C++ (shared library)\n Locks, read-write locks, semaphores, leader election and counters over the\n ZooKeeper C client, correct under faults and interoperable with Curator and Kazoo.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME "libzkrecipes-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_zkr_pin}, libzookeeper-mt-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "ZooKeeper recipes for C++ (development files)\n Headers, the CMake package (find_package(zkrecipes)) and zkrecipes.pc for\n pkg-config.")
set(CPACK_DEBIAN_TOOL_PACKAGE_NAME "zkr")
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOL_PACKAGE_DEPENDS "${_zkr_pin}")
set(CPACK_DEBIAN_TOOL_DESCRIPTION
    "ZooKeeper recipes from the shell\n zkr runs a command while holding a distributed lock or a semaphore lease, or while\n elected leader, and updates counters, on a ZooKeeper ensemble.")
include(CPack)
