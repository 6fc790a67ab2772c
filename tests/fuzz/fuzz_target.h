// What every fuzz target in tests/fuzz defines (docs/fuzzing.md):
//
//   LLVMFuzzerTestOneInput  the libFuzzer entry point: one input, any bytes;
//                           must never crash, leak or misbehave
//   FuzzSeeds               well-formed inputs to start from (a valid label
//                           URL, a signed note, ...), made with test keys
//
// Built with clang's libFuzzer by tools/fuzz.sh for long runs, or with the
// short driver smoke_main.cc (any compiler) for the test suite.

#ifndef CHEMLEDGER_TESTS_FUZZ_FUZZ_TARGET_H_
#define CHEMLEDGER_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds();
}  // namespace chemledger::fuzz

#endif  // CHEMLEDGER_TESTS_FUZZ_FUZZ_TARGET_H_
