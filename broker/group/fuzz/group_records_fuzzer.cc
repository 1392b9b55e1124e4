// libFuzzer target for the group coordinator's decoders of bytes it did not write: the embedded
// consumer protocol that clients put in JoinGroup (subscriptions, and the assignments a leader
// hands out in SyncGroup), and the records of __consumer_offsets it reads back at start-up
// (built only with -DTERN_FUZZ=ON and clang; scripts/fuzz.sh runs it).
//
// Input: a selector byte, then the bytes for that decoder. What decodes is encoded again where
// there is an encoder, and that encoding must decode to the same value; a disagreement aborts,
// which libFuzzer reports as a crash with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "broker/group/consumer_group_records.h"
#include "broker/group/consumer_protocol.h"
#include "broker/group/group_metadata_record.h"
#include "broker/group/offsets_records.h"

namespace tern::broker::group {
namespace {

[[noreturn]] void Finding(const char* what) {
  std::fprintf(stderr, "group_records_fuzzer: %s\n", what);
  std::abort();
}

template <typename Decode, typename Encode>
void RoundTrip(std::string_view bytes, Decode decode, Encode encode, const char* what) {
  auto first = decode(bytes);
  if (!first.ok()) return;
  auto second = decode(encode(first.value()));
  if (!second.ok() || !(second.value() == first.value())) Finding(what);
}

void Fuzz(std::string_view input) {
  if (input.empty()) return;
  const auto selector = static_cast<std::uint8_t>(input[0]) % 8;
  const std::string_view bytes = input.substr(1);
  switch (selector) {
    case 0: {
      (void)AssignmentVersionFor(bytes);
      (void)DecodeConsumerSubscription(bytes);
      break;
    }
    case 1: {
      auto a = DecodeConsumerAssignment(bytes);
      if (!a.has_value()) break;
      auto again = DecodeConsumerAssignment(EncodeConsumerAssignment(a->partitions, a->version));
      if (!again.has_value() || again->partitions != a->partitions) {
        Finding("a re-encoded assignment does not decode to itself");
      }
      break;
    }
    case 2:
      RoundTrip(bytes, DecodeMemberMetadataValue,
                [](const MemberMetadataValue& v) { return EncodeMemberMetadataValue(v); },
                "member metadata does not round-trip");
      break;
    case 3:
      RoundTrip(bytes, DecodeMemberAssignmentValue, EncodeMemberAssignmentValue,
                "a current assignment does not round-trip");
      break;
    case 4:
      RoundTrip(bytes, DecodeTargetAssignmentValue, EncodeTargetAssignmentValue,
                "a target assignment does not round-trip");
      break;
    case 5:
      RoundTrip(bytes, DecodeGroupMetadataValue,
                [](const GroupMetadataValue& v) { return EncodeGroupMetadataValue(v); },
                "group metadata does not round-trip");
      break;
    case 6:
      (void)DecodeConsumerRecordKey(bytes);
      (void)DecodeOffsetsRecordKey(bytes);
      break;
    default:
      (void)DecodeEpochValue(bytes);
      (void)DecodeOffsetCommitValue(bytes);
      break;
  }
}

}  // namespace
}  // namespace tern::broker::group

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tern::broker::group::Fuzz(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
