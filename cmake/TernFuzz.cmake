# TERN_FUZZ: builds the libFuzzer targets in kafka/fuzz/ and broker/group/fuzz/ (scripts/fuzz.sh uses a separate build
# folder for this). libFuzzer comes with clang only, so the option requires clang. Everything in
# such a build is compiled with coverage instrumentation and ASan/UBSan, so that the libraries a
# fuzzer links are instrumented too; the fuzzers themselves link with -fsanitize=fuzzer.
# With the option OFF (the default) nothing here has any effect.

option(TERN_FUZZ "Build the libFuzzer targets in kafka/fuzz and broker/group/fuzz (needs clang)" OFF)

if(TERN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TERN_FUZZ needs clang (libFuzzer): configure with CXX=clang++, "
                        "or use scripts/fuzz.sh")
  endif()
  set(TERN_FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${TERN_FUZZ_FLAGS} -fsanitize=fuzzer-no-link)
  add_link_options(${TERN_FUZZ_FLAGS})
  # The fuzzers link libraries that later add_subdirectory calls define; CMake resolves target
  # names at generation time, so the order does not matter.
  add_subdirectory("${CMAKE_SOURCE_DIR}/kafka/fuzz" "${CMAKE_BINARY_DIR}/kafka/fuzz")
  add_subdirectory("${CMAKE_SOURCE_DIR}/broker/group/fuzz" "${CMAKE_BINARY_DIR}/broker/group/fuzz")
endif()
