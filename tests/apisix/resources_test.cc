#include "apisix/resources.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "nlohmann/json.hpp"

namespace agent::apisix {
namespace {

// The DOM encoder the agent used before the direct one, kept as the reference it must match
// byte for byte (the encoding decides whether an unchanged object makes a new revision, and
// APISIX reads it).
std::string Cut(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

std::string ReferenceJson(const Route& route) {
  nlohmann::json j;
  j["id"] = route.id;
  j["name"] = Cut(route.name, 100);
  if (!route.desc.empty()) j["desc"] = Cut(route.desc, kMaxDescLength);
  j["uris"] = route.uris;
  if (!route.hosts.empty()) j["hosts"] = route.hosts;
  if (!route.vars.empty()) {
    nlohmann::json vars = nlohmann::json::array();
    for (const RouteVar& v : route.vars) {
      if (v.negate) {
        vars.push_back({v.var, "!", v.op, v.value});
      } else {
        vars.push_back({v.var, v.op, v.value});
      }
    }
    j["vars"] = std::move(vars);
  }
  j["priority"] = route.priority;
  if (!route.upstream_id.empty()) j["upstream_id"] = route.upstream_id;
  if (route.timeout_seconds) {
    j["timeout"] = {{"connect", route.timeout_connect_seconds.value_or(60.0)},
                    {"send", *route.timeout_seconds},
                    {"read", *route.timeout_seconds}};
  }
  if (!route.plugins.empty()) j["plugins"] = route.plugins;
  j["status"] = 1;
  return j.dump();
}

std::string ReferenceJson(const Upstream& upstream) {
  nlohmann::json j;
  j["id"] = upstream.id;
  j["name"] = Cut(upstream.name, 100);
  if (!upstream.desc.empty()) j["desc"] = Cut(upstream.desc, kMaxDescLength);
  j["type"] = upstream.type;
  if (upstream.type == "chash") {
    j["hash_on"] = upstream.hash_on;
    j["key"] = upstream.key;
  }
  nlohmann::json nodes = nlohmann::json::array();
  for (const UpstreamNode& n : upstream.nodes) {
    nlohmann::json node = {{"host", n.host}, {"port", n.port}, {"weight", n.weight}};
    if (n.priority != 0) node["priority"] = n.priority;
    nodes.push_back(std::move(node));
  }
  j["nodes"] = std::move(nodes);
  if (upstream.retries) j["retries"] = *upstream.retries;
  if (!upstream.scheme.empty()) j["scheme"] = upstream.scheme;
  if (!upstream.upstream_host.empty()) {
    j["pass_host"] = "rewrite";
    j["upstream_host"] = upstream.upstream_host;
  }
  if (!upstream.checks.is_null()) j["checks"] = upstream.checks;
  if (upstream.connect_timeout_seconds || upstream.idle_timeout_seconds) {
    const double idle = upstream.idle_timeout_seconds.value_or(60.0);
    j["timeout"] = {{"connect", upstream.connect_timeout_seconds.value_or(60.0)}, {"send", idle}, {"read", idle}};
  }
  return j.dump();
}

std::string ReferenceJson(const StreamRoute& route) {
  nlohmann::json j;
  j["id"] = route.id;
  j["server_addr"] = route.server_addr;
  j["server_port"] = route.server_port;
  j["upstream_id"] = route.upstream_id;
  return j.dump();
}

// Random text that exercises every escape: quotes, backslashes, each control byte, DEL, '/',
// and multi-byte UTF-8 (valid: the encoders' input always is).
std::string RandomText(std::mt19937& random, size_t max_length) {
  static const char* kPieces[] = {"a", "Z", "9", "\"", "\\", "/", "\x7f", " ", ".", "é", "水", "😀", "outbound|80||"};
  std::string text;
  const size_t length = std::uniform_int_distribution<size_t>(0, max_length)(random);
  while (text.size() < length) {
    if (random() % 6 == 0) {
      text.push_back(static_cast<char>(random() % 0x20));
    } else {
      text.append(kPieces[random() % (sizeof kPieces / sizeof *kPieces)]);
    }
  }
  return text;
}

double RandomSeconds(std::mt19937& random) {
  static const double kValues[] = {0, 0.001, 0.1, 0.25, 1, 1.5, 15, 60, 3600, 1e-7, 123456.789, 86400.000001};
  return kValues[random() % (sizeof kValues / sizeof *kValues)];
}

nlohmann::json RandomJson(std::mt19937& random, int depth) {
  switch (random() % (depth > 2 ? 4 : 6)) {
    case 0: return RandomText(random, 12);
    case 1: return static_cast<int64_t>(random()) - (1 << 30);
    case 2: return RandomSeconds(random);
    case 3: return random() % 2 == 0;
    case 4: {
      nlohmann::json object = nlohmann::json::object();
      for (int i = random() % 4; i > 0; --i) object[RandomText(random, 8)] = RandomJson(random, depth + 1);
      return object;
    }
    default: {
      nlohmann::json array = nlohmann::json::array();
      for (int i = random() % 4; i > 0; --i) array.push_back(RandomJson(random, depth + 1));
      return array;
    }
  }
}

TEST(ResourcesTest, TheDirectEncodingIsTheDomEncodingByteForByte) {
  std::mt19937 random(20261202);
  for (int i = 0; i < 3000; ++i) {
    Route route;
    route.id = RandomText(random, 20);
    route.name = RandomText(random, 130);
    route.desc = random() % 3 == 0 ? "" : RandomText(random, 300);
    for (int n = random() % 3; n > 0; --n) route.uris.push_back(RandomText(random, 10));
    for (int n = random() % 3; n > 0; --n) route.hosts.push_back(RandomText(random, 10));
    for (int n = random() % 3; n > 0; --n) {
      route.vars.push_back({RandomText(random, 8), random() % 2 ? "==" : "~~", RandomText(random, 8), random() % 2 == 0});
    }
    route.priority = static_cast<int64_t>(random() % 2000) - 1000;
    if (random() % 2) route.upstream_id = RandomText(random, 16);
    if (random() % 2) route.timeout_seconds = RandomSeconds(random);
    if (random() % 2) route.timeout_connect_seconds = RandomSeconds(random);
    if (random() % 2) {
      for (int n = random() % 3; n > 0; --n) route.plugins[RandomText(random, 10)] = RandomJson(random, 0);
    }
    ASSERT_EQ(EncodeJson(route), ReferenceJson(route)) << "route " << i;

    Upstream upstream;
    upstream.id = RandomText(random, 20);
    upstream.name = RandomText(random, 130);
    upstream.desc = random() % 3 == 0 ? "" : RandomText(random, 300);
    static const char* kTypes[] = {"roundrobin", "least_conn", "chash", "ewma"};
    upstream.type = kTypes[random() % 4];
    upstream.hash_on = RandomText(random, 8);
    upstream.key = RandomText(random, 8);
    for (int n = random() % 4; n > 0; --n) {
      upstream.nodes.push_back({RandomText(random, 15), static_cast<uint32_t>(random()), static_cast<uint32_t>(random() % 1000),
                                static_cast<int32_t>(random() % 5) - 2});
    }
    if (random() % 2) upstream.connect_timeout_seconds = RandomSeconds(random);
    if (random() % 2) upstream.idle_timeout_seconds = RandomSeconds(random);
    if (random() % 2) upstream.retries = static_cast<uint32_t>(random() % 10);
    if (random() % 2) upstream.scheme = "https";
    if (random() % 2) upstream.upstream_host = RandomText(random, 20);
    if (random() % 3 == 0) upstream.checks = RandomJson(random, 0);
    ASSERT_EQ(EncodeJson(upstream), ReferenceJson(upstream)) << "upstream " << i;

    StreamRoute stream{RandomText(random, 10), RandomText(random, 10), static_cast<uint32_t>(random() % 65536),
                       RandomText(random, 10), ""};
    ASSERT_EQ(EncodeJson(stream), ReferenceJson(stream)) << "stream route " << i;
  }
}

// A name or desc cut at APISIX's limit inside a multi-byte character used to leave half of it,
// which nlohmann's encoder refuses with an exception (the process's end): cut before it.
TEST(ResourcesTest, LimitsCutAtACharacterBoundary) {
  Route route;
  route.id = "r";
  route.name = std::string(99, 'n') + "é" + "tail";  // "é" is bytes 100-101
  route.desc = std::string(255, 'd') + "水";          // "水" is bytes 256-258
  const nlohmann::json encoded = nlohmann::json::parse(EncodeJson(route));
  EXPECT_EQ(encoded["name"], std::string(99, 'n'));
  EXPECT_EQ(encoded["desc"], std::string(255, 'd'));
  Upstream upstream;
  upstream.name = std::string(98, 'u') + "😀";  // 4 bytes: 99-102
  EXPECT_EQ(nlohmann::json::parse(EncodeJson(upstream))["name"], std::string(98, 'u'));
}

}  // namespace
}  // namespace agent::apisix
