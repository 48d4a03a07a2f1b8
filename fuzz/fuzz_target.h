// The libFuzzer entry point every target in this folder defines. Built two ways (fuzz/CMakeLists.txt):
// with clang and -fsanitize=fuzzer as a fuzzer, or with any compiler linked to replay_main.cc,
// which runs the seed corpus through it as a test.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// A property that must hold for every input: abort (the sanitizers' and libFuzzer's signal for a
// finding) with the reason, so the crash file shows what broke.
void FuzzCheck(bool condition, const char* what);
