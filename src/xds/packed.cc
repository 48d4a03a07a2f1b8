#include "xds/packed.h"

#include <memory>

#include <google/protobuf/wire_format_lite.h>

namespace agent::xds {

namespace {

// A thread's scratch blocks for arenas, made on first use and kept for the thread's life.
constexpr int kScratchSlots = 3;  // a cluster, its load assignment, and one more nested decode
struct ScratchSlot {
  std::unique_ptr<char[]> block;
  bool taken = false;
};
thread_local ScratchSlot scratch_slots[kScratchSlots];

}  // namespace

ArenaScratch::ArenaScratch() {
  for (int i = 0; i < kScratchSlots; ++i) {
    ScratchSlot& slot = scratch_slots[i];
    if (slot.taken) continue;
    // operator new[] aligns for any type, as the arena needs of its first block.
    if (!slot.block) slot.block.reset(new char[kBlockSize]);
    slot.taken = true;
    slot_ = i;
    block_ = slot.block.get();
    return;
  }
}

ArenaScratch::~ArenaScratch() {
  if (slot_ >= 0) scratch_slots[slot_].taken = false;
}

std::optional<std::string> WireStringField(const std::string& bytes, int number) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::string value;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end (or a zero tag, which a decode rejects: checked below)
    if (WireFormatLite::GetTagFieldNumber(tag) == number &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::ReadString(&in, &value)) return std::nullopt;
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != static_cast<int>(bytes.size())) return std::nullopt;
  return value;
}

}  // namespace agent::xds
