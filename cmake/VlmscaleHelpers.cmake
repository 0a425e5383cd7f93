# vlmscale_add_library(NAME SOURCES ... [DEPS ...])
#   A component library vlmscale_NAME; headers are included as "component/file.h" from src/.
#   Position-independent: the libtorch job plugin (jobs/CMakeLists.txt) links them into a shared
#   object.
function(vlmscale_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(vlmscale_${name} STATIC)
  set_target_properties(vlmscale_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_sources(vlmscale_${name} PRIVATE ${ARG_SOURCES})
  target_include_directories(vlmscale_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}
                                                     ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(vlmscale_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(vlmscale_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# Runtime options of the sanitizer builds (docs/RELIABILITY.md): stop at the first finding, with
# a stack; leak checking on, with the suppressions of tests/sanitize/ (libraries outside vlmscale).
set(VLMSCALE_SANITIZER_ENV "")
if(VLMSCALE_SANITIZE)
  set(_supp ${PROJECT_SOURCE_DIR}/tests/sanitize)
  set(VLMSCALE_SANITIZER_ENV
      "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=${_supp}/ubsan.supp"
      "LSAN_OPTIONS=suppressions=${_supp}/lsan.supp:print_suppressions=0"
      "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${_supp}/tsan.supp")
endif()

# vlmscale_add_test(NAME SOURCES ... DEPS ... [LABELS ...] [MPI_RANKS n] [TIMEOUT s] [TSAN]
#                   [LSAN_NO_TLS])
#   A GoogleTest executable NAME registered with CTest. With MPI_RANKS, the test runs under
#   mpiexec with that many ranks (--oversubscribe, root allowed). In a sanitizer build
#   (VLMSCALE_SANITIZE) it also gets the label `sanitize`; the ThreadSanitizer build
#   (VLMSCALE_SANITIZE=thread) builds only the tests marked TSAN (those that run threads of
#   vlmscale), to keep its compile time small.
function(vlmscale_add_test name)
  cmake_parse_arguments(ARG "TSAN;LSAN_NO_TLS" "MPI_RANKS;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(VLMSCALE_SANITIZE STREQUAL "thread" AND NOT ARG_TSAN)
    return()
  endif()
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
  if(VLMSCALE_SANITIZE)
    list(APPEND labels sanitize)
    if(ARG_MPI_RANKS)  # See tests/sanitize/keep_modules.cc.
      target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/sanitize/keep_modules.cc)
      target_link_options(${name} PRIVATE -Wl,--export-dynamic-symbol=dlclose)
    endif()
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
      OMPI_MCA_rmaps_base_oversubscribe=1 ${VLMSCALE_SANITIZER_ENV})
  if(VLMSCALE_SANITIZE AND ARG_LSAN_NO_TLS)
    # LeakSanitizer's exit-time scan of dynamic TLS crashes ("Tracer caught signal 11" at a DTLS
    # block with a bogus range) in processes where Open MPI has dlopen'ed TLS-using components
    # (driver_group_comms_test: MPI_Comm_create_group on 4 ranks). use_tls=0 skips TLS as a root
    # set: it can only add reports (objects reachable from TLS alone), never hide a leak; the one
    # it adds there, glibc's dlopen bookkeeping, is suppressed in tests/sanitize/lsan.supp. Only
    # for tests marked LSAN_NO_TLS: elsewhere it would report HDF5's per-thread error stacks.
    list(APPEND env "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/sanitize/lsan.supp:print_suppressions=0:use_tls=0")
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "${env}")
endfunction()

# vlmscale_add_script_test(NAME COMMAND ... [LABELS ...] [TIMEOUT s])
#   A shell or Python test script registered with CTest, run from the source tree with
#   VLMSCALE_BIN pointing at build/vlmscale. Not registered in builds without the vlmscale binary
#   (VLMSCALE_SKIP_COMPONENTS with cli: the sanitizer and fuzz builds).
function(vlmscale_add_script_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT TARGET vlmscale)
    return()
  endif()
  add_test(NAME ${name} COMMAND ${ARG_COMMAND} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "VLMSCALE_BIN=$<TARGET_FILE:vlmscale>;VLMSCALE_BUILD_DIR=${PROJECT_BINARY_DIR};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()

# vlmscale_use_torch_pch(TARGET [SKIP source ...])
#   Compiles TARGET's sources with the precompiled <torch/torch.h> of vlmscale_torch_pch (when
#   VLMSCALE_TORCH_PCH is on); SKIP lists sources that do not include libtorch (loading the
#   precompiled header costs a few seconds per file).
function(vlmscale_use_torch_pch target)
  cmake_parse_arguments(ARG "" "" "SKIP" ${ARGN})
  if(NOT TARGET vlmscale_torch_pch OR NOT TARGET ${target})
    return()
  endif()
  target_precompile_headers(${target} REUSE_FROM vlmscale_torch_pch)
  # The precompiled header is -fPIC (CMakeLists.txt); an executable would otherwise get -fPIE
  # or nothing, and GCC would ignore the header and parse <torch/torch.h> again.
  target_compile_options(${target} PRIVATE -fPIC)
  if(ARG_SKIP)
    set_source_files_properties(${ARG_SKIP} TARGET_DIRECTORY ${target}
                                PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
endfunction()
