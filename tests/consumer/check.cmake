# Installs the built library into a scratch prefix, then builds and runs tests/consumer against it
# the way a user's project would: MODE=find_package (a CMake project) or MODE=pkg_config (one
# compiler command with the flags of `pkg-config --cflags --libs zkrecipes`, nothing else).
# MODE=find_zookeeper installs nothing: it checks cmake/FindZooKeeper.cmake (CMAKE_DIR) on a static
# copy (ZK_STATIC_LIBRARY) of the C client renamed as its CMake build names it.
# Usage: cmake -DMODE=... -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DLIBDIR=... -DCXX=...
#              [-DCXX_FLAGS=...] [-DLINK_FLAGS=...] -P check.cmake
# The flags are the library build's own (a sanitizer build's consumer needs the same runtime).
file(REMOVE_RECURSE "${WORK_DIR}")
function(run out_var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  message("${out}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
set(prefix "${WORK_DIR}/prefix")
if(MODE STREQUAL "find_zookeeper")
  # The C client as the C client's own CMake build installs it (vcpkg's and Conan's packages):
  # static, named libzookeeper.a, under a root of its own, found by name with ZooKeeper_ROOT.
  set(root "${WORK_DIR}/zookeeper-root")
  file(MAKE_DIRECTORY "${root}/include" "${root}/lib")
  get_filename_component(headers "${ZK_INCLUDE_DIR}/zookeeper" ABSOLUTE)
  file(COPY "${headers}" DESTINATION "${root}/include")
  file(COPY_FILE "${ZK_STATIC_LIBRARY}" "${root}/lib/libzookeeper.a")
  run(_ ${CMAKE_COMMAND} -S "${CONSUMER_DIR}/find_zookeeper" -B "${WORK_DIR}/build"
      "-DZKR_CMAKE_DIR=${CMAKE_DIR}" "-DZooKeeper_ROOT=${root}" -DZooKeeper_USE_STATIC_LIBS=ON
      "-DEXPECTED_LIBRARY=${root}/lib/libzookeeper.a" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
  run(_ ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
  run(_ "${WORK_DIR}/build/find_zookeeper")
  run(needed objdump -p "${WORK_DIR}/build/find_zookeeper")
  if(needed MATCHES "NEEDED +libzookeeper")
    message(FATAL_ERROR "linked the shared C client, not the static one of the root:\n${needed}")
  endif()
  return()
endif()
run(_ ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
if(MODE STREQUAL "find_package")
  run(_ ${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${prefix}"
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
  run(_ ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
  run(_ "${WORK_DIR}/build/consumer")
elseif(MODE STREQUAL "pkg_config")
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${LIBDIR}/pkgconfig")
  run(_ pkg-config --validate zkrecipes)
  run(version pkg-config --modversion zkrecipes)
  run(flags pkg-config --cflags --libs zkrecipes)
  string(FIND "${flags}" "-I${prefix}/" at)
  if(at LESS 0)
    message(FATAL_ERROR "pkg-config's flags do not point into the prefix ${prefix}: ${flags}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
  separate_arguments(link_flags UNIX_COMMAND "${LINK_FLAGS}")
  run(_ "${CXX}" -std=c++17 ${cxx_flags} "${CONSUMER_DIR}/main.cpp" -o "${WORK_DIR}/consumer"
      ${flags} ${link_flags})
  run(_ "${WORK_DIR}/consumer")
else()
  message(FATAL_ERROR "check.cmake: MODE must be find_package, pkg_config or find_zookeeper, not "
                      "'${MODE}'")
endif()
