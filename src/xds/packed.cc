#include "xds/packed.h"

#include <google/protobuf/wire_format_lite.h>

namespace agent::xds {

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
