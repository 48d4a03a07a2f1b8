#include "cli/status_command.h"

#include <iostream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/listen_address.h"
#include "nlohmann/json.hpp"

namespace agent::cli {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// GET http://<admin><path>: the body, or an error naming the address.
bool Get(const config::ListenAddress& admin, const std::string& path, std::string* body, std::string* error) {
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address(admin.ip), admin.port});
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, admin.ToString());
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    if (response.result_int() != 200) {
      *error = absl::StrCat("GET ", path, ": ", response.result_int(), " ", response.body());
      return false;
    }
    *body = response.body();
    return true;
  } catch (const std::exception& e) {
    *error = absl::StrCat("cannot reach the admin endpoint at ", admin.ToString(), ": ", e.what(),
                          " (is the agent running with --admin-listen ", admin.ToString(), "?)");
    return false;
  }
}

std::string ShortType(const std::string& type) { return type.substr(type.rfind('.') + 1); }

}  // namespace

int RunStatus(const std::string& admin_listen) {
  auto admin = config::ParseListenAddress(admin_listen);
  if (!admin.ok()) {
    std::cerr << "Error: --admin-listen: " << admin.status().message() << "\n";
    return 2;
  }
  std::string body, error;
  if (!Get(*admin, "/syncz", &body, &error)) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }
  const nlohmann::json s = nlohmann::json::parse(body, nullptr, false);
  if (s.is_discarded()) {
    std::cerr << "Error: /syncz did not answer JSON\n";
    return 1;
  }
  const auto& x = s.value("xds", nlohmann::json::object());
  const std::string provisioner = x.value("provisioner", "?");
  if (provisioner == "xds-v3-grpc") {
    std::cout << absl::StrFormat("control plane  %s (%s), %s, %d reconnects\n", x.value("control_plane", "?"),
                                 x.value("protocol", "?"), x.value("connected", false) ? "connected" : "NOT CONNECTED",
                                 x.value("reconnects", 0));
  } else {
    std::cout << "xDS from files  " << x.value("files", nlohmann::json::array()).dump() << "\n";
  }
  std::cout << absl::StrFormat("%-24s %9s %9s %6s %6s  %s\n", "TYPE", "RESOURCES", "VERSION", "ACKS", "NACKS", "STATE");
  bool synced = true;
  for (const auto& t : x.value("types", nlohmann::json::array())) {
    std::string state = "SYNCED";
    if (t.contains("last_nack")) state = absl::StrCat("NACKED: ", t["last_nack"].value("error_detail", ""));
    if (t.value("warming", 0) > 0) state = absl::StrCat("WARMING (", t.value("warming", 0), " pending)");
    if (provisioner == "xds-v3-grpc" && t.value("responses", 0) == 0) state = "NOT SENT";
    synced = synced && state == "SYNCED";
    std::cout << absl::StrFormat("%-24s %9d %9s %6d %6d  %s\n", ShortType(t.value("type", "")), t.value("resources", 0),
                                 t.value("accepted_version", "-").substr(0, 9), t.value("acks", 0), t.value("nacks", 0),
                                 state);
  }
  const auto& e = s.value("etcd", nlohmann::json::object());
  const auto& tr = s.value("translation", nlohmann::json::object());
  const int64_t revision = e.value("revision", int64_t{0});
  const auto& watchers = e.value("watchers", nlohmann::json::object());
  std::cout << absl::StrFormat("etcd           revision %d (compacted %d), watchers: %d http, %d grpc; %d behind\n",
                               revision, e.value("compacted_revision", int64_t{0}), watchers.value("http", 0),
                               watchers.value("grpc", 0), e.value("watchers_behind", 0));
  // The watchers that have not been sent everything yet: "APISIX is behind", and which worker.
  for (const auto& stream : e.value("watch_streams", nlohmann::json::array())) {
    for (const auto& w : stream.value("watchers", nlohmann::json::array())) {
      if (w.value("in_sync", true)) continue;
      std::cout << absl::StrFormat("  behind       %s %s watch %d on %s: sent up to revision %d of %d\n",
                                   stream.value("protocol", "?"), stream.value("peer", "?"), w.value("watch_id", int64_t{0}),
                                   w.value("key", ""), w.value("sent_revision", int64_t{0}), revision);
    }
  }
  std::cout << absl::StrFormat("APISIX         %d routes, %d upstreams, %d stream routes; %d features left out "
                               "(GET /config_dump?resource=skipped)\n",
                               tr.value("routes", 0), tr.value("upstreams", 0), tr.value("stream_routes", 0),
                               tr.value("skipped", 0));
  return synced ? 0 : 3;
}

}  // namespace agent::cli
