// libFuzzer target for the code that reads untrusted bytes off the wire: every generated message
// codec and record-batch validation (built only with -DTERN_FUZZ=ON and clang; scripts/fuzz.sh
// runs it).
//
// Input: api key (2 bytes, big-endian), version (2), flag byte (bit 0 set: request, clear:
// response), then the message body. A body that decodes is re-encoded; that encoding must decode
// again, consume all its bytes and re-encode to itself. The whole input is also handed to the
// record-batch validators, whose answers must agree with each other. Any disagreement aborts,
// which libFuzzer reports as a crash with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kafka/messages/registry.h"
#include "kafka/record_batch.h"
#include "kafka/wire.h"

namespace tern::kafka {
namespace {

[[noreturn]] void Finding(const char* what, std::int16_t api_key, std::int16_t version,
                          bool request) {
  std::fprintf(stderr, "request_fuzzer: %s (api %d v%d %s)\n", what, api_key, version,
               request ? "request" : "response");
  std::abort();
}

void FuzzCodec(std::string_view input) {
  if (input.size() < 5) return;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(input[i]); };
  const auto api_key = static_cast<std::int16_t>((byte(0) << 8) | byte(1));
  const auto version = static_cast<std::int16_t>((byte(2) << 8) | byte(3));
  const bool request = (byte(4) & 1) != 0;

  Reader first_reader(input.substr(5));
  Writer first;
  if (!DecodeAndReencode(api_key, request, version, first_reader, first)) return;
  const std::string encoded = first.TakeBuffer();

  Reader second_reader(encoded);
  Writer second;
  if (!DecodeAndReencode(api_key, request, version, second_reader, second)) {
    Finding("re-encoded message does not decode", api_key, version, request);
  }
  if (second_reader.remaining() != 0) {
    Finding("re-encoded message has bytes left after decoding", api_key, version, request);
  }
  if (second.buffer() != encoded) {
    Finding("re-encoding is not stable", api_key, version, request);
  }
}

void FuzzRecordBatches(std::string_view input) {
  (void)ParseRecordBatchHeader(input);
  auto split = SplitBatches(input);
  auto all = ValidateRecordBatches(input);
  if (all.ok() && !split.ok()) {
    Finding("ValidateRecordBatches accepts what SplitBatches rejects", -1, -1, false);
  }
  RecordBatchHeader header;
  if (!ValidateRecordBatch(input, &header).ok()) return;
  if (!all.ok() || all.value().size() != 1 || !(all.value()[0] == header)) {
    Finding("one valid batch, but ValidateRecordBatches disagrees", -1, -1, false);
  }
}

}  // namespace
}  // namespace tern::kafka

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tern::kafka::FuzzCodec(input);
  tern::kafka::FuzzRecordBatches(input);
  return 0;
}
