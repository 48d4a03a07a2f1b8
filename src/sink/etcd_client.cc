#include "sink/etcd_client.h"

#include <optional>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/read_file.h"

namespace agent::sink {

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::string content;
  if (absl::Status read = ReadWholeFile(path, content); !read.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", read.message()));
  }
  return content;
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& member, const char* what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, " on ", member, ": ", s.error_message()));
}

// Another member may answer: this one is unreachable, timed out, or is cut off from its leader
// ("etcdserver: no leader", "leader changed" and "request timed out" are all UNAVAILABLE).
bool TryAnotherMember(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

bool TokenRejected(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         absl::StrContains(s.error_message(), "invalid auth token");
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("--etcd-sink: no endpoint given");
  if (options.user.empty() != options.password.empty()) {
    return absl::InvalidArgumentError("--etcd-sink-user and --etcd-sink-password go together");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--etcd-sink-cert and --etcd-sink-key go together");
  }
  std::optional<bool> tls;
  std::vector<std::string> targets;
  for (const std::string& url : options.endpoints) {
    absl::string_view rest = url;
    bool https = false;
    if (absl::ConsumePrefix(&rest, "https://")) {
      https = true;
    } else if (!absl::ConsumePrefix(&rest, "http://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd-sink: ", url, " is not an http:// or https:// URL (as etcd's --endpoints)"));
    }
    absl::ConsumeSuffix(&rest, "/");
    const size_t colon = rest.rfind(':');
    if (rest.empty() || absl::StrContains(rest, "/") || colon == absl::string_view::npos || colon == 0 ||
        colon + 1 == rest.size() || rest.substr(colon + 1).find_first_not_of("0123456789") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--etcd-sink: ", url, " must be scheme://host:port"));
    }
    if (tls.has_value() && *tls != https) {
      return absl::InvalidArgumentError("--etcd-sink: mixes http:// and https:// endpoints");
    }
    tls = https;
    targets.emplace_back(rest);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (*tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = ReadFile("--etcd-sink-cacert", options.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.cert_file.empty()) {
      auto cert = ReadFile("--etcd-sink-cert", options.cert_file);
      if (!cert.ok()) return cert.status();
      auto key = ReadFile("--etcd-sink-key", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    if (!options.ca_file.empty() || !options.cert_file.empty()) {
      return absl::InvalidArgumentError("--etcd-sink-cacert/--etcd-sink-cert need https:// endpoints");
    }
    credentials = grpc::InsecureChannelCredentials();
  }
  std::unique_ptr<EtcdClient> client(new EtcdClient(std::move(options)));
  for (size_t i = 0; i < targets.size(); ++i) {
    auto member = std::make_unique<Member>();
    member->url = client->options_.endpoints[i];
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);  // a page of a large range; etcd itself sends up to 2 GiB
    args.SetMaxSendMessageSize(256 << 20);     // etcd answers "request is too large" itself, with its limit
    member->channel = grpc::CreateCustomChannel(targets[i], credentials, args);
    member->kv = etcdserverpb::KV::NewStub(member->channel);
    member->lease = etcdserverpb::Lease::NewStub(member->channel);
    member->watch = etcdserverpb::Watch::NewStub(member->channel);
    member->auth = etcdserverpb::Auth::NewStub(member->channel);
    client->members_.push_back(std::move(member));
  }
  return client;
}

std::string EtcdClient::endpoint() const { return members_[current_.load() % members_.size()]->url; }

absl::Status EtcdClient::Authenticate(Member& member) {
  if (options_.user.empty()) return absl::OkStatus();
  {
    std::lock_guard lock(mutex_);
    if (!member.token.empty()) return absl::OkStatus();
  }
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password);
  etcdserverpb::AuthenticateResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  grpc::Status s = member.auth->Authenticate(&context, request, &response);
  if (!s.ok()) return FromGrpc(s, member.url, "authenticate");
  std::lock_guard lock(mutex_);
  member.token = response.token();
  return absl::OkStatus();
}

void EtcdClient::Prepare(grpc::ClientContext& context, Member& member, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  std::lock_guard lock(mutex_);
  if (!member.token.empty()) context.AddMetadata("token", member.token);
}

template <typename Call>
absl::Status EtcdClient::WithFailover(const char* what, Call&& call) {
  absl::Status last;
  const size_t first = current_.load();
  for (size_t attempt = 0; attempt < members_.size(); ++attempt) {
    const size_t index = (first + attempt) % members_.size();
    Member& member = *members_[index];
    grpc::Status s;
    bool reauthenticated = false;
    for (;;) {
      if (auto a = Authenticate(member); !a.ok()) {
        s = grpc::Status(static_cast<grpc::StatusCode>(a.code()), std::string(a.message()));
        break;
      }
      s = call(member);
      if (s.ok() || options_.user.empty() || reauthenticated || !TokenRejected(s)) break;
      {  // the token expired (simple tokens live 5 minutes idle) or the member restarted: again, once
        std::lock_guard lock(mutex_);
        member.token.clear();
      }
      log::Info("etcd sink: %s: %s; authenticating again", member.url, s.error_message());
      reauthenticated = true;
    }
    if (s.ok()) {
      current_.store(index);
      return absl::OkStatus();
    }
    last = FromGrpc(s, member.url, what);
    if (!TryAnotherMember(s)) return last;
  }
  current_.store((first + 1) % members_.size());  // start the next call elsewhere
  return last;
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> EtcdClient::Unary(const char* what, std::unique_ptr<Stub> Member::*stub,
                                           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                                           const Request& request) {
  Response response;
  auto s = WithFailover(what, [&](Member& m) {
    grpc::ClientContext context;
    Prepare(context, m, options_.timeout);
    return ((*(m.*stub)).*method)(&context, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(const etcdserverpb::RangeRequest& request) {
  return Unary("range", &Member::kv, &etcdserverpb::KV::Stub::Range, request);
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  return Unary("txn", &Member::kv, &etcdserverpb::KV::Stub::Txn, request);
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  auto response = Unary("lease grant", &Member::lease, &etcdserverpb::Lease::Stub::LeaseGrant, request);
  if (response.ok() && !response->error().empty()) {
    return absl::UnavailableError(absl::StrCat("lease grant: ", response->error()));
  }
  return response;
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  return Unary("lease revoke", &Member::lease, &etcdserverpb::Lease::Stub::LeaseRevoke, request).status();
}

absl::StatusOr<int64_t> EtcdClient::KeepAliveOnce(int64_t lease) {
  int64_t ttl = 0;
  auto s = WithFailover("lease keep-alive", [&](Member& m) {
    grpc::ClientContext context;
    Prepare(context, m, options_.timeout);
    auto stream = m.lease->LeaseKeepAlive(&context);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    etcdserverpb::LeaseKeepAliveResponse response;
    if (stream->Write(request) && stream->Read(&response)) {
      ttl = response.ttl();
      stream->WritesDone();
      context.TryCancel();
      stream->Finish();
      return grpc::Status::OK;
    }
    grpc::Status finished = stream->Finish();
    return finished.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream ended") : finished;
  });
  if (!s.ok()) return s;
  return ttl;
}

absl::StatusOr<bool> EtcdClient::WaitForDelete(const std::string& key, int64_t revision,
                                                std::chrono::milliseconds max_wait) {
  bool deleted = false;
  auto s = WithFailover("watch", [&](Member& m) {
    grpc::ClientContext context;
    Prepare(context, m, max_wait);
    context.AddMetadata("hasleader", "true");  // a member cut off from its leader refuses, as clientv3 asks
    auto stream = m.watch->Watch(&context);
    etcdserverpb::WatchRequest request;
    request.mutable_create_request()->set_key(key);
    request.mutable_create_request()->set_start_revision(revision);
    if (!stream->Write(request)) return stream->Finish();
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.canceled()) break;  // compacted past `revision`, or refused: the caller looks again
      for (const auto& event : response.events()) {
        if (event.type() == mvccpb::Event::DELETE) deleted = true;
      }
      if (deleted) break;
    }
    context.TryCancel();
    grpc::Status finished = stream->Finish();
    if (deleted || response.canceled() || finished.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
        finished.error_code() == grpc::StatusCode::CANCELLED) {
      return grpc::Status::OK;  // the wait ended: its outcome is `deleted`
    }
    return finished;
  });
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace agent::sink
