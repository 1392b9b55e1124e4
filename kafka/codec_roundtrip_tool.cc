// kafka_codec_roundtrip: checks Tern's generated message codecs against bodies that Apache
// Kafka's own client library encoded (tests/schema/KafkaMessageVectors.java writes them).
//
//   kafka_codec_roundtrip VECTOR_FILE        checks every vector, one line per failure, then
//                                            "N passed, N failed"; exit 1 on any failure
//   kafka_codec_roundtrip --list             prints "<api key>:<lo>-<hi>" per codec, the input
//                                            KafkaMessageVectors.java takes
//   kafka_codec_roundtrip --corpus VECTOR_FILE DIR
//                                            writes each vector as a fuzzer input:
//                                            api key (2 bytes), version (2), request flag (1), body;
//                                            and each Produce request's record batches alone
//
// Vector line: <api key> <version> <request|response> <hex body>. Per vector it checks that
//   whole:    the body decodes, exactly all of it is consumed, and re-encoding gives the same bytes;
//   prefix:   every strict prefix fails to decode (cut at each length), without crashing;
//   junk:     with bytes appended, decoding succeeds and leaves exactly those bytes unread.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "kafka/messages/produce.h"
#include "kafka/messages/registry.h"
#include "kafka/wire.h"

namespace tern::kafka {
namespace {

struct Vector {
  std::int16_t api_key = 0;
  std::int16_t version = 0;
  bool request = true;
  std::string body;
};

std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::optional<Vector> ParseLine(const std::string& line) {
  std::istringstream in(line);
  int key = 0;
  int version = 0;
  std::string direction;
  std::string hex;
  if (!(in >> key >> version >> direction)) return std::nullopt;
  in >> hex;  // an empty body has no hex at all
  auto body = FromHex(hex);
  if (!body || (direction != "request" && direction != "response")) return std::nullopt;
  return Vector{static_cast<std::int16_t>(key), static_cast<std::int16_t>(version),
                direction == "request", std::move(*body)};
}

// Position of the first byte where `a` and `b` differ (the shorter length if one is a prefix).
std::size_t FirstDifference(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

class Checker {
 public:
  void Check(const Vector& v) {
    const bool ok = CheckWhole(v) && CheckPrefixes(v) && CheckJunk(v);
    ++(ok ? passed_ : failed_);
  }
  int passed() const { return passed_; }
  int failed() const { return failed_; }

 private:
  bool Report(const Vector& v, std::string_view check, const std::string& detail) {
    std::cout << "FAIL api " << v.api_key << " v" << v.version << ' '
              << (v.request ? "request" : "response") << " (" << v.body.size()
              << " bytes) " << check << ": " << detail << '\n';
    return false;
  }

  bool CheckWhole(const Vector& v) {
    Reader r(v.body);
    Writer w;
    if (!DecodeAndReencode(v.api_key, v.request, v.version, r, w)) {
      return Report(v, "whole", "decode failed: " + r.status().ToString());
    }
    if (r.remaining() != 0) {
      return Report(v, "whole", std::to_string(r.remaining()) + " bytes left unread at byte " +
                                    std::to_string(v.body.size() - r.remaining()));
    }
    return CompareEncoding(v, "whole", w);
  }

  bool CheckPrefixes(const Vector& v) {
    for (std::size_t n = 0; n < v.body.size(); ++n) {
      Reader r(std::string_view(v.body).substr(0, n));
      Writer w;
      if (DecodeAndReencode(v.api_key, v.request, v.version, r, w)) {
        return Report(v, "prefix", "the first " + std::to_string(n) + " bytes decoded");
      }
    }
    return true;
  }

  bool CheckJunk(const Vector& v) {
    static constexpr std::string_view kJunk("\x00\xff\x7f\x80junk", 8);
    const std::string input = v.body + std::string(kJunk);
    Reader r(input);
    Writer w;
    if (!DecodeAndReencode(v.api_key, v.request, v.version, r, w)) {
      return Report(v, "junk", "decode failed: " + r.status().ToString());
    }
    if (r.rest() != kJunk) {
      return Report(v, "junk", std::to_string(r.remaining()) + " bytes left unread, expected " +
                                   std::to_string(kJunk.size()));
    }
    return CompareEncoding(v, "junk", w);
  }

  bool CompareEncoding(const Vector& v, std::string_view check, const Writer& w) {
    const std::string& out = w.buffer();
    if (!w.file_ranges().empty()) return Report(v, check, "re-encoding references files");
    if (out == v.body) return true;
    const std::size_t at = FirstDifference(out, v.body);
    std::ostringstream detail;
    detail << "re-encoded " << out.size() << " bytes, first difference at byte " << at;
    if (at < out.size() && at < v.body.size()) {
      detail << std::hex << " (got 0x" << (static_cast<unsigned>(out[at]) & 0xff)
             << ", want 0x" << (static_cast<unsigned>(v.body[at]) & 0xff) << ')';
    }
    return Report(v, check, detail.str());
  }

  int passed_ = 0;
  int failed_ = 0;
};

int List() {
  for (const MessageCodecInfo& c : AllMessageCodecs()) {
    std::cout << c.api_key << ':' << c.min_version << '-' << c.max_version << '\n';
  }
  return 0;
}

// Calls each(vector, line number) for every line of the file; stops when it returns false.
template <typename Each>
int ForEachVector(const char* path, Each each) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "kafka_codec_roundtrip: cannot read " << path << '\n';
    return 2;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    auto v = ParseLine(line);
    if (!v) {
      std::cerr << path << ':' << number << ": not a vector line\n";
      return 2;
    }
    if (!each(*v, number)) return 2;
  }
  return 0;
}

int CheckAll(const char* path) {
  Checker checker;
  const int rc = ForEachVector(path, [&](const Vector& v, int) {
    checker.Check(v);
    return true;
  });
  if (rc != 0) return rc;
  std::cout << checker.passed() << " passed, " << checker.failed() << " failed\n";
  return checker.failed() == 0 && checker.passed() > 0 ? 0 : 1;
}

bool WriteFile(const std::string& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary);
  out << bytes;
  if (!out) std::cerr << "kafka_codec_roundtrip: cannot write " << file << '\n';
  return static_cast<bool>(out);
}

// One fuzzer input per vector, plus the record batches of every Produce request on their own,
// so that batch validation starts from real batches too.
bool WriteCorpusEntry(const Vector& v, int line, const std::string& dir) {
  std::string input;
  input.push_back(static_cast<char>((v.api_key >> 8) & 0xff));
  input.push_back(static_cast<char>(v.api_key & 0xff));
  input.push_back(static_cast<char>((v.version >> 8) & 0xff));
  input.push_back(static_cast<char>(v.version & 0xff));
  input.push_back(v.request ? 1 : 0);
  input += v.body;
  const std::string stem = dir + "/vector-" + std::to_string(line);
  if (!WriteFile(stem, input)) return false;
  if (v.api_key != ProduceRequest::kApiKey || !v.request) return true;
  Reader r(v.body);
  ProduceRequest produce;
  if (!produce.Decode(r, v.version)) return true;  // the checker reports it
  int n = 0;
  for (const auto& topic : produce.topic_data) {
    for (const auto& partition : topic.partition_data) {
      if (partition.records.bytes().empty()) continue;
      if (!WriteFile(stem + "-batches-" + std::to_string(n++), partition.records.bytes())) {
        return false;
      }
    }
  }
  return true;
}

int WriteCorpus(const char* path, const std::string& dir) {
  return ForEachVector(path,
                       [&](const Vector& v, int line) { return WriteCorpusEntry(v, line, dir); });
}

}  // namespace
}  // namespace tern::kafka

int main(int argc, char** argv) {
  const std::string_view first = argc > 1 ? argv[1] : "";
  if (argc == 2 && first == "--list") return tern::kafka::List();
  if (argc == 4 && first == "--corpus") return tern::kafka::WriteCorpus(argv[2], argv[3]);
  if (argc == 2 && !first.starts_with("-")) return tern::kafka::CheckAll(argv[1]);
  std::cerr << "usage: kafka_codec_roundtrip VECTOR_FILE | --list | --corpus VECTOR_FILE DIR\n";
  return 2;
}
