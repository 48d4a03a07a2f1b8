// The xds-v3-file decode: the agent's JSON reader (xds/json_wire.h, what the file source runs)
// against protobuf's JSON parser (the reference it is held to), on the same files in one run.
//   xds_decode_bench ROUNDS FILE...   → one line: "bytes <n> agent_ms <t> protobuf_ms <t>"
// (the medians over ROUNDS of decoding every file once, one thread).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "xds/discovery_json.h"

namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Decode>
double MillisecondsFor(const std::vector<std::string>& documents, Decode decode) {
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& json : documents) {
    agent::xds::DecodeReport report;
    if (!decode(json, &report)) {
      std::fprintf(stderr, "a document did not decode\n");
      std::exit(1);
    }
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROUNDS FILE...\n", argv[0]);
    return 2;
  }
  const int rounds = std::max(1, std::atoi(argv[1]));
  std::vector<std::string> documents;
  size_t bytes = 0;
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    documents.push_back(content.str());
    bytes += documents.back().size();
  }
  std::vector<double> agent_ms;
  std::vector<double> protobuf_ms;
  for (int round = 0; round < rounds; ++round) {
    agent_ms.push_back(MillisecondsFor(documents, [](const std::string& json, agent::xds::DecodeReport* report) {
      return agent::xds::DecodeDiscoveryResponseJson(json, report).ok();
    }));
    protobuf_ms.push_back(MillisecondsFor(documents, [](const std::string& json, agent::xds::DecodeReport* report) {
      return agent::xds::ParseDiscoveryResponseWithProtobuf(json, report).ok();
    }));
  }
  std::printf("bytes %zu agent_ms %.1f protobuf_ms %.1f\n", bytes, Median(agent_ms), Median(protobuf_ms));
  return 0;
}
