# Uses ccache when the machine has it. Its cache lives outside the source tree
# (ccache's own default, or CCACHE_DIR), so fresh clones build fast.
find_program(TERN_CCACHE ccache)
if(TERN_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${TERN_CCACHE}")
  message(STATUS "ccache: ${TERN_CCACHE}")
endif()
