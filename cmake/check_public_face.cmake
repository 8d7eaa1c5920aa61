# The public face stands alone (run by CTest as Layers.*; ROOT = the repository): the headers in include/aio and the
# programs in examples/ include only each other ("aio/...") and system or third-party headers (<...>) - never a
# header of src/, which is the libraries' own.
file(GLOB_RECURSE files ${ROOT}/include/aio/*.h ${ROOT}/examples/*.h ${ROOT}/examples/*.cpp)
set(failures "")
foreach(f ${files})
  file(RELATIVE_PATH rel ${ROOT} ${f})
  file(READ ${f} text)
  string(REGEX MATCHALL "#include \"[^\"]+\"" includes "${text}")
  foreach(inc ${includes})
    if(NOT inc MATCHES "^#include \"aio/")
      string(APPEND failures "  ${rel}: ${inc} (the public face may include only aio/ headers)\n")
    endif()
  endforeach()
endforeach()
if(failures)
  message(FATAL_ERROR "the public face reaches into src/:\n${failures}")
endif()
message(STATUS "the public face stands alone over ${ROOT}/include/aio and ${ROOT}/examples")
