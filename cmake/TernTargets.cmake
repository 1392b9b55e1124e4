# Helpers that give every Tern target the same flags:
#   tern_library(NAME SOURCES... DEPS...)   a component library
#   tern_program(NAME SOURCES... DEPS...)   a program in build/bin
#   tern_test(NAME SOURCES... DEPS...)      a GoogleTest binary registered with ctest

set(TERN_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough)
if(TERN_WERROR)
  list(APPEND TERN_WARNINGS -Werror)
endif()

if(TERN_SANITIZE)
  # GCC 12 reports maybe-uninitialized falsely inside std::regex and std::function when
  # instrumenting, and mismatched-new-delete inside Asio's coroutine frame allocator (its
  # operator new and delete both go through aligned_new/aligned_delete); the normal build keeps
  # both warnings.
  set(TERN_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  list(APPEND TERN_WARNINGS -Wno-maybe-uninitialized -Wno-mismatched-new-delete)
  add_compile_options(${TERN_SANITIZER_FLAGS})
  add_link_options(${TERN_SANITIZER_FLAGS})
endif()

function(tern_apply_flags target)
  target_compile_options(${target} PRIVATE ${TERN_WARNINGS})
  target_include_directories(${target} PRIVATE "${CMAKE_BINARY_DIR}/generated")
endfunction()

function(tern_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}")
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  tern_apply_flags(${name})
endfunction()

function(tern_program name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${TERN_BIN_DIR}")
  tern_apply_flags(${name})
endfunction()

function(tern_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  tern_apply_flags(${name})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST)
endfunction()
