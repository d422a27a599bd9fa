# Java programs on Debian's Apache Curator jars (interop peers in tests/, the Curator worker in bench/).
#
#   zkr_add_java_program(NAME Source.java LAUNCHER path [JVM_ARGS ...])
# compiles Source.java with javac into the current binary dir and writes LAUNCHER, a script that runs the
# program's main class (named like the file) with the Curator classpath. Sets ZKR_JAVA_FOUND.
find_package(Java 11 COMPONENTS Development Runtime)
set(ZKR_JAVA_DIR /usr/share/java)
set(ZKR_JAVA_FOUND OFF)
if(Java_FOUND AND EXISTS ${ZKR_JAVA_DIR}/curator-recipes.jar AND EXISTS ${ZKR_JAVA_DIR}/zookeeper.jar)
  set(ZKR_JAVA_FOUND ON)
endif()

set(_zkr_jars curator-client curator-framework curator-recipes zookeeper zookeeper-jute guava
    failureaccess slf4j-api slf4j-nop netty-handler netty-common netty-buffer netty-transport
    netty-codec netty-resolver netty-transport-native-epoll netty-transport-native-unix-common)
set(ZKR_CURATOR_CLASSPATH "")
foreach(jar IN LISTS _zkr_jars)
  if(EXISTS ${ZKR_JAVA_DIR}/${jar}.jar)
    list(APPEND ZKR_CURATOR_CLASSPATH ${ZKR_JAVA_DIR}/${jar}.jar)
  endif()
endforeach()
string(REPLACE ";" ":" ZKR_CURATOR_CLASSPATH "${ZKR_CURATOR_CLASSPATH}")

function(zkr_add_java_program name source)
  cmake_parse_arguments(ARG "" "LAUNCHER" "JVM_ARGS" ${ARGN})
  get_filename_component(main ${source} NAME_WE)
  set(classes ${CMAKE_CURRENT_BINARY_DIR}/${name}-classes)
  add_custom_command(OUTPUT ${classes}/${main}.class
    COMMAND ${CMAKE_COMMAND} -E make_directory ${classes}
    COMMAND ${Java_JAVAC_EXECUTABLE} -nowarn -d ${classes} -cp "${ZKR_CURATOR_CLASSPATH}"
            ${CMAKE_CURRENT_SOURCE_DIR}/${source}
    DEPENDS ${source} COMMENT "javac ${source}" VERBATIM)
  list(JOIN ARG_JVM_ARGS " " jvm_args)
  file(GENERATE OUTPUT ${ARG_LAUNCHER} CONTENT
"#!/bin/sh\nexec ${Java_JAVA_EXECUTABLE} ${jvm_args} -cp \"${classes}:${ZKR_CURATOR_CLASSPATH}\" ${main} \"$@\"\n"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  add_custom_target(${name} ALL DEPENDS ${classes}/${main}.class)
endfunction()
