#include "xds/json_wire.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <type_traits>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace agent::xds {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Objects and arrays nested deeper than this are left to protobuf's parser (real xDS nests a few
// dozen levels; protobuf's own limits are at 64 and 100).
constexpr int kMaxDepth = 60;
constexpr absl::string_view kTypePrefix = "type.googleapis.com/";
constexpr absl::string_view kStructTypeUrl = "type.googleapis.com/google.protobuf.Struct";
constexpr int64_t kMaxDurationSeconds = 315576000000;

// ---- wire format ---------------------------------------------------------------------------

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutTag(std::string& out, int number, WireType type) {
  PutVarint(out, (static_cast<uint64_t>(number) << 3) | type);
}

void PutFixed(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void PutLengthDelimited(std::string& out, int number, absl::string_view bytes) {
  PutTag(out, number, kLengthDelimited);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// ---- field names ---------------------------------------------------------------------------

// A message's fields by their proto name and their JSON name (protobuf's parser takes both).
// Built once per message type, shared by every thread that decodes.
using FieldTable = absl::flat_hash_map<std::string, const FieldDescriptor*>;

const FieldTable& FieldsOf(const Descriptor* type) {
  // A decode asks for the same few dozen types once per object, thousands of times: each thread
  // remembers the tables it was given and takes the lock only for a type new to it.
  thread_local absl::flat_hash_map<const Descriptor*, const FieldTable*> known;
  if (auto it = known.find(type); it != known.end()) return *it->second;
  static absl::Mutex mutex(absl::kConstInit);
  static auto* tables = new absl::node_hash_map<const Descriptor*, FieldTable>();  // stable references
  absl::MutexLock lock(&mutex);
  auto [it, inserted] = tables->try_emplace(type);
  if (inserted) {
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      it->second.emplace(field->name(), field);
      it->second.emplace(field->json_name(), field);
    }
  }
  known.emplace(type, &it->second);
  return it->second;
}

bool IsWrapper(Descriptor::WellKnownType kind) {
  switch (kind) {
    case Descriptor::WELLKNOWNTYPE_DOUBLEVALUE:
    case Descriptor::WELLKNOWNTYPE_FLOATVALUE:
    case Descriptor::WELLKNOWNTYPE_INT64VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT64VALUE:
    case Descriptor::WELLKNOWNTYPE_INT32VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT32VALUE:
    case Descriptor::WELLKNOWNTYPE_STRINGVALUE:
    case Descriptor::WELLKNOWNTYPE_BYTESVALUE:
    case Descriptor::WELLKNOWNTYPE_BOOLVALUE:
      return true;
    default:
      return false;
  }
}

// Whether protobuf's JSON form of the type is not an object of its fields (so inside an Any it
// is {"@type": ..., "value": <form>}).
bool HasSpecialForm(const Descriptor* type) {
  return type->well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED;
}

// ---- the reader ----------------------------------------------------------------------------

// Each method reads one JSON value at the cursor and appends its encoding; false means "not
// taken" (the caller falls back to protobuf's parser), never a partial success.
class Reader {
 public:
  Reader(absl::string_view json, std::vector<std::string>* unknown_types)
      : json_(json), unknown_types_(unknown_types) {}

  bool Document(const Descriptor* type, std::string& out) {
    SkipSpace();
    if (!MessageValue(type, out, 0)) return false;
    SkipSpace();
    return at_ == json_.size();
  }
  size_t offset() const { return at_; }

 private:
  // -- lexical --

  void SkipSpace() {
    while (at_ < json_.size()) {
      const char c = json_[at_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++at_;
    }
  }
  char Peek() {
    SkipSpace();
    return at_ < json_.size() ? json_[at_] : '\0';
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++at_;
    return true;
  }
  bool Literal(absl::string_view word) {
    SkipSpace();
    if (!absl::StartsWith(json_.substr(at_), word)) return false;
    at_ += word.size();
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string& out) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    }
  }

  bool Hex4(uint32_t& code) {
    if (json_.size() - at_ < 4) return false;
    code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = json_[at_++];
      code <<= 4;
      if (c >= '0' && c <= '9') {
        code |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        code |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        code |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  // A JSON string, unescaped. Raw bytes outside printable ASCII are not taken: protobuf's parser
  // and the agent's would have to agree on every invalid UTF-8 sequence.
  bool String(std::string& out) {
    out.clear();
    if (!Consume('"')) return false;
    while (at_ < json_.size()) {
      size_t run = at_;
      while (run < json_.size()) {
        const unsigned char c = static_cast<unsigned char>(json_[run]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++run;
      }
      out.append(json_.data() + at_, run - at_);
      at_ = run;
      if (at_ == json_.size()) return false;
      const char c = json_[at_++];
      if (c == '"') return true;
      if (c != '\\' || at_ == json_.size()) return false;  // a control or non-ASCII byte
      const char escape = json_[at_++];
      switch (escape) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t code;
          if (!Hex4(code)) return false;
          if (code >= 0xdc00 && code <= 0xdfff) return false;  // a low surrogate alone
          if (code >= 0xd800 && code <= 0xdbff) {
            uint32_t low;
            if (json_.size() - at_ < 2 || json_[at_] != '\\' || json_[at_ + 1] != 'u') return false;
            at_ += 2;
            if (!Hex4(low) || low < 0xdc00 || low > 0xdfff) return false;
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(code, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // An object member's key and its ':'. protobuf's parser refuses an empty key, wherever it is.
  bool Key(std::string& key) { return String(key) && !key.empty() && Consume(':'); }

  // A JSON number's text (RFC 8259 grammar).
  bool NumberText(absl::string_view& text, bool& integral) {
    SkipSpace();
    const size_t start = at_;
    auto digits = [&] {
      const size_t from = at_;
      while (at_ < json_.size() && json_[at_] >= '0' && json_[at_] <= '9') ++at_;
      return at_ - from;
    };
    if (at_ < json_.size() && json_[at_] == '-') ++at_;
    if (at_ < json_.size() && json_[at_] == '0') {
      ++at_;
    } else if (digits() == 0) {
      return false;
    }
    integral = true;
    if (at_ < json_.size() && json_[at_] == '.') {
      ++at_;
      integral = false;
      if (digits() == 0) return false;
    }
    if (at_ < json_.size() && (json_[at_] == 'e' || json_[at_] == 'E')) {
      ++at_;
      integral = false;
      if (at_ < json_.size() && (json_[at_] == '+' || json_[at_] == '-')) ++at_;
      if (digits() == 0) return false;
    }
    text = json_.substr(start, at_ - start);
    return true;
  }

  // A number's value as a double, declined when it overflows or underflows (protobuf's parser and
  // the careful path's each refuse some of those, not alike).
  static bool FiniteDouble(absl::string_view text, double& value) {
    if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) return false;
    if (value != 0) return true;
    const absl::string_view mantissa = text.substr(0, text.find_first_of("eE"));
    return mantissa.find_first_of("123456789") == absl::string_view::npos;
  }

  // Skips any value, checked as JSON, as the careful path would see it (discovery_json.cc): it
  // replaces every object whose "@type" names an unknown type, wherever it is, and records the
  // URL. With `record`, such objects are recorded here too; inside one, nothing is looked at.
  bool Skip(int depth, bool record) {
    if (depth > kMaxDepth) return false;
    switch (Peek()) {
      case '"':
        return String(text_);
      case '{': {
        ++at_;
        if (Consume('}')) return true;
        std::string key;
        absl::flat_hash_set<std::string> keys;  // the careful path's DOM keeps only a key's last value
        // This object's own keys stay checked after an unknown "@type" stops the recording inside
        // it: a second "@type" is the one the careful path records.
        const bool check_keys = record;
        bool first = true;
        do {
          if (!Key(key) || (check_keys && !keys.insert(key).second)) return false;
          if (key == "@type" && record) {
            // Only as the first member: the careful path would not look into what came before.
            if (!first || Peek() != '"' || !String(key)) return false;
            if (!IsKnownTypeUrl(key)) {
              unknown_types_->push_back(key);
              record = false;
            }
          } else if (!Skip(depth + 1, record)) {
            return false;
          }
          first = false;
        } while (Consume(','));
        return Consume('}');
      }
      case '[': {
        ++at_;
        if (Consume(']')) return true;
        do {
          if (!Skip(depth + 1, record)) return false;
        } while (Consume(','));
        return Consume(']');
      }
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default: {
        absl::string_view number;
        bool integral;
        double value;
        return NumberText(number, integral) && FiniteDouble(number, value);
      }
    }
  }

  // -- scalars --

  // An integer field's value: a JSON integer, or one in a string ("123"), as protobuf's JSON takes
  // 64-bit values. Fractions, exponents and leading zeros are left to protobuf.
  template <typename Int>
  bool Integer(Int& value) {
    absl::string_view text;
    if (Peek() == '"') {
      if (!String(text_)) return false;
      text = text_;
      const size_t first = !text.empty() && text[0] == '-' ? 1 : 0;
      if (text.size() == first) return false;
      for (size_t i = first; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
      }
      if (text[first] == '0' && text.size() > first + 1) return false;
    } else {
      bool integral;
      if (!NumberText(text, integral) || !integral) return false;
    }
    if (text == "-0") return false;
    if constexpr (std::is_signed_v<Int>) {
      int64_t wide;
      if (!absl::SimpleAtoi(text, &wide)) return false;
      if (wide < std::numeric_limits<Int>::min() || wide > std::numeric_limits<Int>::max()) return false;
      value = static_cast<Int>(wide);
    } else {
      uint64_t wide;
      if (text[0] == '-' || !absl::SimpleAtoi(text, &wide)) return false;
      if (wide > std::numeric_limits<Int>::max()) return false;
      value = static_cast<Int>(wide);
    }
    return true;
  }

  bool Double(double& value) {
    if (Peek() == '"') {
      if (!String(text_)) return false;
      if (text_ == "NaN") {
        value = std::numeric_limits<double>::quiet_NaN();
      } else if (text_ == "Infinity") {
        value = std::numeric_limits<double>::infinity();
      } else if (text_ == "-Infinity") {
        value = -std::numeric_limits<double>::infinity();
      } else {
        return false;
      }
      return true;
    }
    absl::string_view text;
    bool integral;
    if (!NumberText(text, integral) || text == "-0") return false;
    return FiniteDouble(text, value);
  }

  bool Bool(bool& value) {
    if (Literal("true")) {
      value = true;
    } else if (Literal("false")) {
      value = false;
    } else {
      return false;
    }
    return true;
  }

  // Canonical base64 only (padded, standard alphabet): every decoder reads it alike.
  bool Bytes(std::string& out) {
    if (!String(text_) || text_.size() % 4 != 0) return false;
    if (!absl::Base64Unescape(text_, &out)) return false;
    return absl::Base64Escape(out) == text_;
  }

  // "1.5s", "-0.25s", "10s": protobuf's reading, including how it turns the fraction into nanos.
  bool Duration(std::string& out) {
    if (!String(text_) || text_.size() < 2 || text_.back() != 's') return false;
    absl::string_view text(text_);
    text.remove_suffix(1);
    const bool negative = absl::ConsumePrefix(&text, "-");
    const size_t dot = text.find('.');
    const absl::string_view whole = text.substr(0, dot);
    const absl::string_view fraction = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
    auto all_digits = [](absl::string_view s) {
      for (char c : s) {
        if (c < '0' || c > '9') return false;
      }
      return !s.empty();
    };
    if (!all_digits(whole) || (dot != absl::string_view::npos && (!all_digits(fraction) || fraction.size() > 9))) {
      return false;
    }
    uint64_t seconds;
    if (!absl::SimpleAtoi(whole, &seconds) || seconds > static_cast<uint64_t>(kMaxDurationSeconds)) return false;
    int32_t nanos = 0;
    if (!fraction.empty()) {
      double fraction_value;
      if (!absl::SimpleAtod(absl::StrCat("0.", fraction), &fraction_value)) return false;
      nanos = static_cast<int32_t>(fraction_value * 1e9);
    }
    const int64_t signed_seconds = negative ? -static_cast<int64_t>(seconds) : static_cast<int64_t>(seconds);
    if (negative) nanos = -nanos;
    if (signed_seconds != 0) {
      PutTag(out, 1, kVarint);
      PutVarint(out, static_cast<uint64_t>(signed_seconds));
    }
    if (nanos != 0) {
      PutTag(out, 2, kVarint);
      PutVarint(out, static_cast<uint64_t>(static_cast<int64_t>(nanos)));
    }
    return true;
  }

  // -- structure --

  // Grows at the end only, so the buffers of shallower levels stay where they are.
  std::string& Scratch(int depth) {
    while (scratch_.size() <= static_cast<size_t>(depth)) scratch_.emplace_back();
    std::string& buffer = scratch_[static_cast<size_t>(depth)];
    buffer.clear();
    return buffer;
  }

  // An integer of `field`'s C++ type, in the encoding its field type names: fixed 4 or 8 bytes,
  // a zigzag varint (sint32/64), or a varint (int32's negatives sign-extended to ten bytes, as
  // protobuf writes them).
  template <typename Int>
  bool IntegerField(const FieldDescriptor* field, std::string& out) {
    Int value;
    if (!Integer(value)) return false;
    using Unsigned = std::make_unsigned_t<Int>;
    const int number = field->number();
    switch (field->type()) {
      case FieldDescriptor::TYPE_SFIXED32:
      case FieldDescriptor::TYPE_FIXED32:
        PutTag(out, number, kFixed32);
        PutFixed(out, static_cast<uint32_t>(value), 4);
        break;
      case FieldDescriptor::TYPE_SFIXED64:
      case FieldDescriptor::TYPE_FIXED64:
        PutTag(out, number, kFixed64);
        PutFixed(out, static_cast<uint64_t>(value), 8);
        break;
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SINT64:
        PutTag(out, number, kVarint);
        PutVarint(out, static_cast<Unsigned>(static_cast<Unsigned>(static_cast<Unsigned>(value) << 1) ^
                                             static_cast<Unsigned>(value >> (8 * sizeof(Int) - 1))));
        break;
      default:
        PutTag(out, number, kVarint);
        if constexpr (std::is_signed_v<Int>) {
          PutVarint(out, static_cast<uint64_t>(static_cast<int64_t>(value)));
        } else {
          PutVarint(out, value);
        }
    }
    return true;
  }

  // One value of `field`'s type (an element, for a repeated field).
  bool Singular(const FieldDescriptor* field, std::string& out, int depth) {
    const int number = field->number();
    switch (field->type()) {
      case FieldDescriptor::TYPE_MESSAGE: {
        std::string& nested = Scratch(depth + 1);
        if (!MessageValue(field->message_type(), nested, depth + 1)) return false;
        PutLengthDelimited(out, number, nested);
        return true;
      }
      case FieldDescriptor::TYPE_STRING:
        if (!String(text_)) return false;
        PutLengthDelimited(out, number, text_);
        return true;
      case FieldDescriptor::TYPE_BYTES: {
        std::string decoded;
        if (!Bytes(decoded)) return false;
        PutLengthDelimited(out, number, decoded);
        return true;
      }
      case FieldDescriptor::TYPE_BOOL: {
        bool value;
        if (!Bool(value)) return false;
        PutTag(out, number, kVarint);
        PutVarint(out, value ? 1 : 0);
        return true;
      }
      case FieldDescriptor::TYPE_ENUM: {
        int32_t value;
        if (Peek() == '"') {
          if (!String(text_)) return false;
          const auto* known = field->enum_type()->FindValueByName(text_);
          if (known == nullptr) return false;
          value = known->number();
        } else if (!Integer(value)) {
          return false;
        }
        PutTag(out, number, kVarint);
        PutVarint(out, static_cast<uint64_t>(static_cast<int64_t>(value)));
        return true;
      }
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return IntegerField<int32_t>(field, out);
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return IntegerField<int64_t>(field, out);
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return IntegerField<uint32_t>(field, out);
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return IntegerField<uint64_t>(field, out);
      case FieldDescriptor::TYPE_DOUBLE: {
        double value;
        if (!Double(value)) return false;
        uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        PutTag(out, number, kFixed64);
        PutFixed(out, bits, 8);
        return true;
      }
      case FieldDescriptor::TYPE_FLOAT: {
        double value;
        if (!Double(value) || (std::isfinite(value) && std::fabs(value) > FLT_MAX)) return false;
        const float narrow = static_cast<float>(value);
        uint32_t bits;
        std::memcpy(&bits, &narrow, sizeof bits);
        PutTag(out, number, kFixed32);
        PutFixed(out, bits, 4);
        return true;
      }
      default:  // groups
        return false;
    }
  }

  // A field's value: null (not set, except a google.protobuf.Value's null), an array for a
  // repeated field, an object for a map.
  bool Field(const FieldDescriptor* field, std::string& out, int depth) {
    if (Peek() == 'n') {
      if (!Literal("null")) return false;
      if (!field->is_repeated() && field->type() == FieldDescriptor::TYPE_MESSAGE &&
          field->message_type()->well_known_type() == Descriptor::WELLKNOWNTYPE_VALUE) {
        PutLengthDelimited(out, field->number(), absl::string_view("\x08\x00", 2));  // null_value
      }
      return true;
    }
    if (field->is_map()) return Map(field, out, depth);
    if (!field->is_repeated()) return Singular(field, out, depth);
    if (!Consume('[') || depth + 1 > kMaxDepth) return false;
    if (Consume(']')) return true;
    do {
      if (Peek() == 'n') return false;
      if (!Singular(field, out, depth)) return false;
    } while (Consume(','));
    return Consume(']');
  }

  // map<string, V> as an object; each member an entry {1: key, 2: value}.
  bool Map(const FieldDescriptor* field, std::string& out, int depth) {
    const Descriptor* entry = field->message_type();
    const FieldDescriptor* key_field = entry->map_key();
    const FieldDescriptor* value_field = entry->map_value();
    if (key_field->type() != FieldDescriptor::TYPE_STRING || !Consume('{') || depth + 1 > kMaxDepth) return false;
    if (Consume('}')) return true;
    std::string key;
    absl::flat_hash_set<std::string> keys;  // a key given twice: left to protobuf
    do {
      if (!Key(key) || key == "@type" || Peek() == 'n' || !keys.insert(key).second) return false;
      std::string& encoded = Scratch(depth + 1);
      PutLengthDelimited(encoded, 1, key);
      if (!Singular(value_field, encoded, depth + 1)) return false;
      PutLengthDelimited(out, field->number(), encoded);
    } while (Consume(','));
    return Consume('}');
  }

  // The members of an object read as `type`'s fields, after its '{' (and, for an Any, after its
  // "@type" member: `more` says a member was read before).
  bool Members(const Descriptor* type, std::string& out, int depth, bool more) {
    if (depth > kMaxDepth || type->field_count() > 256) return false;
    const FieldTable& fields = FieldsOf(type);
    uint64_t seen[4] = {0, 0, 0, 0};
    uint64_t oneofs_seen = 0;
    if (type->real_oneof_decl_count() > 64) return false;
    if (Consume('}')) return true;
    if (more && !Consume(',')) return false;
    std::string key;
    do {
      if (!Key(key)) return false;
      auto found = fields.find(key);
      if (found == fields.end()) {
        if (key == "@type" || !Skip(depth + 1, /*record=*/true)) return false;  // unknown fields are ignored
        continue;
      }
      const FieldDescriptor* field = found->second;
      const int index = field->index();
      if (seen[index / 64] & (uint64_t{1} << (index % 64))) return false;  // given twice
      seen[index / 64] |= uint64_t{1} << (index % 64);
      if (const auto* oneof = field->real_containing_oneof()) {
        const uint64_t bit = uint64_t{1} << oneof->index();
        if (oneofs_seen & bit) return false;
        oneofs_seen |= bit;
      }
      if (!Field(field, out, depth)) return false;
    } while (Consume(','));
    return Consume('}');
  }

  // An Any: {"@type": url, ...the fields}, or {"@type": url, "value": <form>} for a type with a
  // special JSON form. A type the agent does not know becomes a Struct naming it.
  bool Any(std::string& out, int depth) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    std::string url;
    if (!Key(url) || url != "@type" || !String(url)) return false;
    // Known or not by the name after the last '/' (as the careful path decides); a known type
    // is resolved by protobuf only under its usual prefix.
    if (!absl::StartsWith(url, kTypePrefix)) return false;
    const size_t slash = url.rfind('/');
    const Descriptor* type =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(url.substr(slash + 1));
    if (type != nullptr && slash + 1 != kTypePrefix.size()) return false;
    std::string& value = Scratch(depth + 1);
    if (type == nullptr) {
      // The rest is dropped unread, but a second "@type" or a key given twice would change which
      // object the careful path's DOM sees.
      absl::flat_hash_set<std::string> keys;
      while (Consume(',')) {
        if (!Key(text_) || text_ == "@type" || !keys.insert(text_).second || !Skip(depth + 1, /*record=*/false)) {
          return false;
        }
      }
      if (!Consume('}')) return false;
      std::string string_value;
      PutLengthDelimited(string_value, 3, url);
      std::string entry;
      PutLengthDelimited(entry, 1, "unknown_type_url");
      PutLengthDelimited(entry, 2, string_value);
      PutLengthDelimited(value, 1, entry);
      PutLengthDelimited(out, 1, kStructTypeUrl);
      PutLengthDelimited(out, 2, value);
      unknown_types_->push_back(std::move(url));
      return true;
    }
    if (HasSpecialForm(type)) {
      const Descriptor::WellKnownType kind = type->well_known_type();
      if (kind != Descriptor::WELLKNOWNTYPE_STRUCT && kind != Descriptor::WELLKNOWNTYPE_VALUE &&
          kind != Descriptor::WELLKNOWNTYPE_LISTVALUE && kind != Descriptor::WELLKNOWNTYPE_DURATION &&
          !IsWrapper(kind)) {
        return false;
      }
      if (!Consume(',') || !Key(text_) || text_ != "value" || Peek() == 'n' ||
          !MessageValue(type, value, depth + 1) || !Consume('}')) {
        return false;
      }
    } else if (!Members(type, value, depth + 1, /*more=*/true)) {
      return false;
    }
    PutLengthDelimited(out, 1, url);
    PutLengthDelimited(out, 2, value);
    return true;
  }

  // google.protobuf.Value: any JSON.
  bool Value(std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    switch (Peek()) {
      case 'n':
        if (!Literal("null")) return false;
        PutTag(out, 1, kVarint);
        PutVarint(out, 0);
        return true;
      case 't':
      case 'f': {
        bool value;
        if (!Bool(value)) return false;
        PutTag(out, 4, kVarint);
        PutVarint(out, value ? 1 : 0);
        return true;
      }
      case '"':
        if (!String(text_)) return false;
        PutLengthDelimited(out, 3, text_);
        return true;
      case '{': {
        std::string& nested = Scratch(depth + 1);
        if (!Struct(nested, depth + 1)) return false;
        PutLengthDelimited(out, 5, nested);
        return true;
      }
      case '[': {
        std::string& nested = Scratch(depth + 1);
        if (!List(nested, depth + 1)) return false;
        PutLengthDelimited(out, 6, nested);
        return true;
      }
      default: {
        absl::string_view text;
        bool integral;
        double value;
        if (!NumberText(text, integral) || text == "-0" || !FiniteDouble(text, value)) {
          return false;
        }
        uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        PutTag(out, 2, kFixed64);
        PutFixed(out, bits, 8);
        return true;
      }
    }
  }

  // google.protobuf.Struct: an object, each member an entry of `fields` (1).
  bool Struct(std::string& out, int depth) {
    if (depth > kMaxDepth || !Consume('{')) return false;
    if (Consume('}')) return true;
    std::string key;
    absl::flat_hash_set<std::string> keys;  // a key given twice: protobuf keeps the first, the wire the last
    do {
      if (!Key(key) || key == "@type" || !keys.insert(key).second) return false;
      std::string& entry = Scratch(depth + 1);
      PutLengthDelimited(entry, 1, key);
      std::string& value = Scratch(depth + 2);
      if (!Value(value, depth + 2)) return false;
      PutLengthDelimited(entry, 2, value);
      PutLengthDelimited(out, 1, entry);
    } while (Consume(','));
    return Consume('}');
  }

  // google.protobuf.ListValue: an array, each element a Value of `values` (1).
  bool List(std::string& out, int depth) {
    if (depth > kMaxDepth || !Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      std::string& value = Scratch(depth + 1);
      if (!Value(value, depth + 1)) return false;
      PutLengthDelimited(out, 1, value);
    } while (Consume(','));
    return Consume(']');
  }

  // A value of message type `type`, in its JSON form.
  bool MessageValue(const Descriptor* type, std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    const Descriptor::WellKnownType kind = type->well_known_type();
    if (IsWrapper(kind)) return Singular(type->field(0), out, depth);
    switch (kind) {
      case Descriptor::WELLKNOWNTYPE_ANY:
        return Any(out, depth);
      case Descriptor::WELLKNOWNTYPE_DURATION:
        return Duration(out);
      case Descriptor::WELLKNOWNTYPE_STRUCT:
        return Struct(out, depth);
      case Descriptor::WELLKNOWNTYPE_VALUE:
        return Value(out, depth);
      case Descriptor::WELLKNOWNTYPE_LISTVALUE:
        return List(out, depth);
      case Descriptor::WELLKNOWNTYPE_UNSPECIFIED:
        return Consume('{') && Members(type, out, depth, /*more=*/false);
      default:  // Timestamp, FieldMask
        return false;
    }
  }

  absl::string_view json_;
  size_t at_ = 0;
  std::vector<std::string>* unknown_types_;
  std::deque<std::string> scratch_;  // one buffer per depth: a nested message's bytes before its length
  std::string text_;                  // the last string read where only its value matters
};

}  // namespace

bool IsKnownTypeUrl(absl::string_view type_url) {
  const size_t slash = type_url.rfind('/');
  const std::string name(slash == absl::string_view::npos ? type_url : type_url.substr(slash + 1));
  return google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(name) != nullptr;
}

std::optional<std::string> JsonToWire(absl::string_view json, const Descriptor* type,
                                      std::vector<std::string>* unknown_types, size_t* declined_at) {
  std::vector<std::string> found;
  std::string out;
  Reader reader(json, &found);
  if (!reader.Document(type, out)) {
    if (declined_at != nullptr) *declined_at = reader.offset();
    return std::nullopt;
  }
  unknown_types->insert(unknown_types->end(), std::make_move_iterator(found.begin()),
                        std::make_move_iterator(found.end()));
  return out;
}

}  // namespace agent::xds
