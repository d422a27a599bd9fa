# FindZooKeeper — locates the ZooKeeper C client, multi-threaded flavour (the one with its own I/O
# and completion threads and the synchronous zoo_* calls), and imports it as ZooKeeper::zookeeper_mt.
#
# It is shipped under two names, neither with CMake or pkg-config files to rely on: zookeeper_mt
# (Debian's libzookeeper-mt-dev, the C client's autotools build) and zookeeper (the C client's own
# CMake build, as vcpkg's and Conan's packages install it, static, with its helper library
# hashtable beside it). Both are looked for, in each directory in turn, so a root given as a hint
# wins over the system's copy.
#
# Hints: ZooKeeper_ROOT (or CMAKE_PREFIX_PATH) where it is installed; ZooKeeper_USE_STATIC_LIBS=ON
# prefers the static library (lib*.a), which then brings its own dependencies (hashtable, threads,
# libm) to whoever links it.
#
# THREADED: zookeeper.h declares the synchronous calls only with THREADED defined, so the imported
# target carries that definition to whoever includes zookeeper.h. zkrecipes links it PRIVATE and its
# public headers never include zookeeper.h: the definition never reaches zkrecipes' users. A library
# without the synchronous calls (a single-threaded build) is refused here, not at link time.
#
# Result variables: ZooKeeper_FOUND, ZooKeeper_INCLUDE_DIR, ZooKeeper_LIBRARY, ZooKeeper_VERSION.
set(_zk_names zookeeper_mt zookeeper)
if(ZooKeeper_USE_STATIC_LIBS)
  set(_zk_names libzookeeper_mt.a libzookeeper.a ${_zk_names})
endif()
find_path(ZooKeeper_INCLUDE_DIR NAMES zookeeper/zookeeper.h)
find_library(ZooKeeper_LIBRARY NAMES ${_zk_names} NAMES_PER_DIR)

if(ZooKeeper_INCLUDE_DIR AND EXISTS "${ZooKeeper_INCLUDE_DIR}/zookeeper/zookeeper_version.h")
  file(STRINGS "${ZooKeeper_INCLUDE_DIR}/zookeeper/zookeeper_version.h" _zk_version_line
       REGEX "#define ZOO_VERSION \"[^\"]+\"")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" ZooKeeper_VERSION "${_zk_version_line}")
endif()

# A static library needs what it was linked with: the CMake build's hashtable, threads, libm.
set(_zk_deps)
if(ZooKeeper_LIBRARY MATCHES "\\.a$")
  get_filename_component(_zk_dir "${ZooKeeper_LIBRARY}" DIRECTORY)
  find_library(ZooKeeper_hashtable_LIBRARY NAMES libhashtable.a hashtable HINTS "${_zk_dir}"
               NO_DEFAULT_PATH)
  if(ZooKeeper_hashtable_LIBRARY)
    list(APPEND _zk_deps "${ZooKeeper_hashtable_LIBRARY}")
  endif()
  list(APPEND _zk_deps m)
  mark_as_advanced(ZooKeeper_hashtable_LIBRARY)
endif()

if(ZooKeeper_INCLUDE_DIR AND ZooKeeper_LIBRARY)
  find_package(Threads REQUIRED)
  include(CheckCXXSourceCompiles)
  include(CMakePushCheckState)
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_INCLUDES "${ZooKeeper_INCLUDE_DIR}")
  set(CMAKE_REQUIRED_DEFINITIONS -DTHREADED)
  set(CMAKE_REQUIRED_LIBRARIES "${ZooKeeper_LIBRARY}" ${_zk_deps} Threads::Threads)
  set(CMAKE_REQUIRED_QUIET ON)
  # The result is cached per library file, so pointing at another one checks again.
  string(MD5 _zk_key "${ZooKeeper_LIBRARY}")
  check_cxx_source_compiles(
    "#include <zookeeper/zookeeper.h>
     int main() { return zoo_exists(nullptr, \"/\", 0, nullptr); }"
    ZooKeeper_SYNC_API_${_zk_key})
  cmake_pop_check_state()
  set(ZooKeeper_SYNC_API "${ZooKeeper_SYNC_API_${_zk_key}}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(ZooKeeper
  REQUIRED_VARS ZooKeeper_LIBRARY ZooKeeper_INCLUDE_DIR ZooKeeper_SYNC_API
  VERSION_VAR ZooKeeper_VERSION
  REASON_FAILURE_MESSAGE "the multi-threaded C client (with the synchronous zoo_* calls) is needed")

if(ZooKeeper_FOUND AND NOT TARGET ZooKeeper::zookeeper_mt)
  add_library(ZooKeeper::zookeeper_mt UNKNOWN IMPORTED)
  set_target_properties(ZooKeeper::zookeeper_mt PROPERTIES
    IMPORTED_LOCATION "${ZooKeeper_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZooKeeper_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS THREADED
    INTERFACE_LINK_LIBRARIES "${_zk_deps};Threads::Threads")
endif()
mark_as_advanced(ZooKeeper_INCLUDE_DIR ZooKeeper_LIBRARY)
