# llama.cpp as a subproject: the pinned release fetched from the npm registry (scripts/fetch-deps.sh), or the
# user's own checkout with -DAIO_LLAMA_DIR=/path. Backend options (GGML_CUDA, GGML_CANN, GGML_METAL, GGML_VULKAN,
# ...) are llama.cpp's own cache variables and pass straight through from the command line.

set(AIO_LLAMA_DIR "" CACHE PATH "Use this llama.cpp checkout instead of the pinned release")
option(AIO_LLAMA_TOOLS "Also build llama.cpp's llama-bench, llama-server and llama-quantize (performance anchors)" ON)

if(NOT AIO_LLAMA_DIR)
  execute_process(
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-deps.sh llama.cpp
    OUTPUT_VARIABLE _aio_llama_dir OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _aio_fetch_rc)
  if(NOT _aio_fetch_rc EQUAL 0)
    message(FATAL_ERROR "Could not fetch the pinned llama.cpp (see the message above). "
                        "Fix the network/npm problem, or pass -DAIO_LLAMA_DIR=/path/to/llama.cpp.")
  endif()
  set(AIO_LLAMA_DIR "${_aio_llama_dir}" CACHE PATH "Use this llama.cpp checkout instead of the pinned release" FORCE)
endif()
if(NOT EXISTS "${AIO_LLAMA_DIR}/include/llama.h")
  message(FATAL_ERROR "AIO_LLAMA_DIR=${AIO_LLAMA_DIR} is not a llama.cpp checkout (no include/llama.h)")
endif()
message(STATUS "A-IO: llama.cpp from ${AIO_LLAMA_DIR}")

# Static libraries, nothing we do not use: no tests, examples, network or web UI.
set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_APP OFF CACHE BOOL "" FORCE)
set(LLAMA_OPENSSL OFF CACHE BOOL "" FORCE)
set(LLAMA_CURL OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_UI OFF CACHE BOOL "" FORCE)
set(LLAMA_USE_PREBUILT_UI OFF CACHE BOOL "" FORCE)
set(LLAMA_TOOLS_INSTALL OFF CACHE BOOL "" FORCE)
# llama.cpp's common library: A-IO's structured outputs use its JSON-schema-to-grammar conversion.
set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS ${AIO_LLAMA_TOOLS} CACHE BOOL "" FORCE)
set(LLAMA_BUILD_SERVER ${AIO_LLAMA_TOOLS} CACHE BOOL "" FORCE)

# EXCLUDE_FROM_ALL: only what A-IO links, plus the three anchor tools below, gets built.
add_subdirectory(${AIO_LLAMA_DIR} ${CMAKE_BINARY_DIR}/llama.cpp EXCLUDE_FROM_ALL)

# llama.cpp's AMX kernels (Intel Sapphire Rapids and later), which a native build turns on by itself on such a CPU,
# crash in their first matrix product on some of these machines (a general protection fault in
# ggml_backend_amx_mul_mat; llama.cpp issue 20824, closed without a fix) - seen here with llama-bench itself on Q8_0
# models. Off unless asked for; the CPU backend's AVX-512 kernels serve those machines. This build's llama.cpp tools
# (the anchors A-IO is measured against) get the same kernels as aio.
option(AIO_GGML_AMX "Let a native build use llama.cpp's AMX kernels (they crash on some AMX machines)" OFF)
if(NOT AIO_GGML_AMX AND TARGET ggml-cpu AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(ggml-cpu PRIVATE -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
endif()

# llama.cpp's common library for A-IO's own targets, WITHOUT what it links privately: its copy of cpp-httplib (for
# model downloads, which A-IO never does) would shadow Debian's cpp-httplib that A-IO and its tests use - the same
# symbols in another version, a silent mismatch of struct layouts. So A-IO links the archive itself; llama.cpp's tools
# link llama-common as usual.
add_library(aio_llama_common INTERFACE)
add_dependencies(aio_llama_common llama-common)
# SYSTEM: warnings in llama.cpp's own headers are not ours to fix (and must not fail a -Werror build).
target_include_directories(aio_llama_common SYSTEM INTERFACE ${AIO_LLAMA_DIR}/common)
target_link_libraries(aio_llama_common INTERFACE $<TARGET_FILE:llama-common> llama-common-base llama)

if(AIO_LLAMA_TOOLS)
  add_custom_target(llama-anchors ALL DEPENDS llama-bench llama-server llama-quantize)
endif()
