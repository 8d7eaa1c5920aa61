# Generates a header holding a text file as a C++ raw string, so data files (built-in policies) ship inside the binary.
#   cmake -DIN=file -DOUT=header.h -DNAME=kSymbol -P embed_text.cmake
file(READ "${IN}" content)
file(WRITE "${OUT}" "// Generated from ${IN} at build time. Do not edit.\n#pragma once\nnamespace aio {\ninline constexpr const char ${NAME}[] = R\"AIO_EMBED(${content})AIO_EMBED\";\n}\n")
