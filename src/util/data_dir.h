// Where aio finds the files it reads at run time besides the user's own: the built-in fastText probe and the Llama-3
// tokenizer `aio synth` embeds. They live in <prefix>/share/aio beside the binary - /usr/share/aio for /usr/bin/aio,
// build/share/aio for build/bin/aio (the build tree mirrors the installed layout, so nothing at run time names a build
// directory and an installed aio never reads one) - or wherever $AIO_DATA_DIR says.
#pragma once

#include <string>

#include "aio/status.h"

namespace aio {

// The data directory, in this order: $AIO_DATA_DIR; <the executable's directory>/../share/aio if it exists; the
// install prefix's share/aio, fixed at build time (for a program that links A-IO from elsewhere).
std::string data_dir();

// data_dir()/relative if it exists; else not_found naming the path, what it is and how to point aio at it.
Expected<std::string> find_data_file(const std::string &relative, const std::string &what);

// The built-in fastText probe (`probe.fasttext_model: builtin`).
Expected<std::string> builtin_probe_path();

} // namespace aio
