# Writes OUT = a header defining AIO_GIT_COMMIT (the checkout's commit, "-dirty" with uncommitted changes; "unknown"
# outside a git checkout), rewriting it only when it changed, so an unchanged commit rebuilds nothing. Run each build.
#   cmake -DSRC=source_dir -DOUT=header -P git_commit.cmake
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(content "// Generated at build time by cmake/git_commit.cmake. Do not edit.\n#pragma once\n#define AIO_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
