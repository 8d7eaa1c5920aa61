// Every fuzz target's entry point, for the tests that run them over fixed inputs (tests/unit/fuzz_corpus_test.cpp,
// tests/unit/pathological_inputs_test.cpp). Each aborts when one of its properties fails.
#pragma once

#include <cstddef>
#include <cstdint>

int fuzz_openai_request(const uint8_t *data, size_t size);
int fuzz_upstream_sse(const uint8_t *data, size_t size);
int fuzz_yaml_loaders(const uint8_t *data, size_t size);
int fuzz_dataset_loaders(const uint8_t *data, size_t size);
int fuzz_results_log(const uint8_t *data, size_t size);
int fuzz_probe_text(const uint8_t *data, size_t size);
