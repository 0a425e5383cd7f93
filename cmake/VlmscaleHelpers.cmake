# vlmscale_add_library(NAME SOURCES ... [DEPS ...])
#   A component library vlmscale_NAME; headers are included as "component/file.h" from src/.
function(vlmscale_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(vlmscale_${name} STATIC)
  target_sources(vlmscale_${name} PRIVATE ${ARG_SOURCES})
  target_include_directories(vlmscale_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}
                                                     ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(vlmscale_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(vlmscale_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# vlmscale_add_test(NAME SOURCES ... DEPS ... [LABELS ...] [MPI_RANKS n] [TIMEOUT s])
#   A GoogleTest executable NAME registered with CTest. With MPI_RANKS, the test runs under
#   mpiexec with that many ranks (--oversubscribe, root allowed).
function(vlmscale_add_test name)
  cmake_parse_arguments(ARG "" "MPI_RANKS;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock)
  if(NOT ARG_MPI_RANKS)
    target_link_libraries(${name} PRIVATE GTest::gtest_main)
  endif()
  target_compile_definitions(${name} PRIVATE
    VLMSCALE_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    VLMSCALE_TEST_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(ARG_MPI_RANKS)
    add_test(NAME ${name}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ARG_MPI_RANKS} --oversubscribe
                     ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${name}> ${MPIEXEC_POSTFLAGS})
    set(labels mpi ${ARG_LABELS})
  else()
    add_test(NAME ${name} COMMAND ${name})
    set(labels unit ${ARG_LABELS})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()

# vlmscale_add_script_test(NAME COMMAND ... [LABELS ...] [TIMEOUT s])
#   A shell or Python test script registered with CTest, run from the source tree with
#   VLMSCALE_BIN pointing at build/vlmscale.
function(vlmscale_add_script_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${ARG_COMMAND} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "VLMSCALE_BIN=$<TARGET_FILE:vlmscale>;VLMSCALE_BUILD_DIR=${PROJECT_BINARY_DIR};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()
