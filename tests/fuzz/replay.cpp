// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Replays fuzz inputs through the fuzz target without libFuzzer, so that the committed corpus
// (every crash reproducer included) runs under CTest in every CI job, sanitizers and valgrind
// included. Arguments: files, or directories whose regular files are all replayed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
std::size_t replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
    return 0;
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}
} // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0, expected = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path());
      std::ranges::sort(files); // a stable order, so that a failure reproduces
      expected += files.size();
      for (const auto& f : files) replayed += replay(f);
    } else {
      ++expected;
      replayed += replay(arg);
    }
  }
  std::printf("replay: %zu inputs replayed\n", replayed);
  // An empty or unreadable corpus is a failure: a replay that ran nothing proves nothing.
  return replayed > 0 && replayed == expected ? 0 : 1;
}
