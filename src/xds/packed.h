// An xDS resource held as its protobuf wire bytes and decoded where it is read.
//
// At mesh scale the decoded resources are the agent's largest state: 10,000 services' Clusters,
// ClusterLoadAssignments, Listeners and RouteConfigurations take ~49 MB as protobuf objects and
// ~7 MB as wire bytes. The file set and the ADS state hold them packed; the translator decodes one
// at a time and only what its cache cannot answer from the bytes' hash. The bytes are immutable
// and shared, so copying a snapshot (the config dump) copies no resource.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/content_hash.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace agent::xds {

template <typename Message>
class Packed {
 public:
  using message_type = Message;

  Packed() = default;  // the empty message
  // Deterministic bytes (map fields sorted): equal messages pack equal.
  Packed(const Message& message)  // NOLINT(google-explicit-constructor): a resource is its message
      : Packed(Serialize(message), Adopt{}) {}

  // Bytes as received (a control plane's or protobuf's JSON parser's serialization). The caller
  // has decoded them once (for the name), so Unpack() cannot fail on them later.
  static Packed FromBytes(std::string bytes) { return Packed(std::move(bytes), Adopt{}); }

  // A fresh decoded copy: the caller owns it for as long as it needs it, and no longer.
  Message Unpack() const {
    Message message;
    if (bytes_) message.ParseFromString(*bytes_);
    return message;
  }

  const std::string& bytes() const { return bytes_ ? *bytes_ : Empty(); }
  // ContentHash64 of the bytes (this process only): equal hashes of equal-length bytes are (for a
  // cache key) equal resources; computed once.
  uint64_t hash() const { return hash_; }
  size_t size() const { return bytes_ ? bytes_->size() : 0; }

  friend bool operator==(const Packed& a, const Packed& b) {
    return a.bytes_ == b.bytes_ || (a.hash_ == b.hash_ && a.bytes() == b.bytes());
  }
  friend bool operator!=(const Packed& a, const Packed& b) { return !(a == b); }

 private:
  struct Adopt {};
  Packed(std::string bytes, Adopt)
      : bytes_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))),
        hash_(ContentHash64(this->bytes())) {}

  static std::string Serialize(const Message& message) {
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      message.SerializeToCodedStream(&coded);
    }
    return bytes;
  }
  static const std::string& Empty() {
    static const std::string empty;
    return empty;
  }

  std::shared_ptr<const std::string> bytes_;
  uint64_t hash_ = ContentHash64("");
};

// A block of memory this thread keeps for the first block of an Unpacked's arena, while one of
// its few blocks is free (nested decodes take the next; past them, the arena allocates its own).
// Decoding thousands of small resources in a row then allocates nothing for most: each arena's
// first block was a malloc of 1–64 KiB, and before each such malloc glibc consolidated the
// small chunks the previous resource had freed (~7 % of the start's main thread).
class ArenaScratch {
 public:
  static constexpr size_t kBlockSize = 32 * 1024;

  ArenaScratch();  // takes a free block of this thread, if one is
  ArenaScratch(const ArenaScratch&) = delete;
  ArenaScratch& operator=(const ArenaScratch&) = delete;
  ~ArenaScratch();  // gives it back

  char* block() const { return block_; }  // nullptr when none was free

 private:
  int slot_ = -1;
  char* block_ = nullptr;
};

// A resource decoded for as long as one piece of work reads it, its objects on an arena: a
// Cluster or a RouteConfiguration is hundreds of small allocations, which the arena makes a few
// blocks, freed at once. At mesh scale the translator decodes 20,000 resources on a start and
// this halves what decoding and freeing them cost (docs/performance.md). Neither copied nor moved:
// the message lives inside.
template <typename Message>
class Unpacked {
 public:
  explicit Unpacked(const Packed<Message>& packed)
      : arena_(ArenaOptionsFor(packed.size(), scratch_)),
        message_(google::protobuf::Arena::CreateMessage<Message>(&arena_)) {
    if (packed.size() > 0) message_->ParseFromString(packed.bytes());
  }
  Unpacked(const Unpacked&) = delete;
  Unpacked& operator=(const Unpacked&) = delete;

  const Message& operator*() const { return *message_; }
  const Message* operator->() const { return message_; }

 private:
  // The first block is the thread's scratch when one is free; the next blocks fit a typical
  // resource (decoded, about four times its bytes), the largest stay small enough that a big one
  // wastes little.
  static google::protobuf::ArenaOptions ArenaOptionsFor(size_t bytes, const ArenaScratch& scratch) {
    google::protobuf::ArenaOptions options;
    options.start_block_size = std::clamp<size_t>(bytes * 4, 1024, 64 * 1024);
    options.max_block_size = 256 * 1024;
    if (scratch.block() != nullptr) {
      options.initial_block = scratch.block();
      options.initial_block_size = ArenaScratch::kBlockSize;
    }
    return options;
  }

  ArenaScratch scratch_;  // declared first: it outlives the arena that uses its block
  google::protobuf::Arena arena_;
  Message* message_;
};

// The string in field `number` of a message's wire bytes, the rest skipped, not decoded: a
// resource's name (field 1 of Listener, RouteConfiguration, Cluster and ClusterLoadAssignment's
// cluster_name) at a fraction of a decode's cost. The last occurrence wins, as in a decode; ""
// when absent; nullopt when the bytes are not a well-formed message.
std::optional<std::string> WireStringField(const std::string& bytes, int number);

}  // namespace agent::xds
