#include "broker/storage/record_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "kafka/compression.h"

namespace tern::broker::storage {
namespace {

constexpr std::int32_t kReadChunkBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxDecompressedBytes = 256 * 1024 * 1024;

Status ReadRange(const std::string& dir, const kafka::FileRange& range, std::string* out) {
  const std::size_t start = out->size();
  out->resize(start + static_cast<std::size_t>(range.length));
  std::size_t done = 0;
  while (done < static_cast<std::size_t>(range.length)) {
    const ssize_t n = ::pread(range.fd, out->data() + start + done,
                              static_cast<std::size_t>(range.length) - done,
                              range.position + static_cast<std::int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("reading " + dir + ": " + std::strerror(errno));
    if (n == 0) return Status::IoError("reading " + dir + ": unexpected end of file");
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status ForEachRecordBatch(
    PartitionLog& log,
    const std::function<Status(const kafka::RecordBatchHeader&, const std::vector<kafka::Record>&)>&
        fn) {
  std::int64_t offset = log.log_start_offset();
  const std::int64_t end = log.log_end_offset();
  while (offset < end) {
    auto read = log.Read(offset, kReadChunkBytes, true, end);
    if (!read.ok()) return read.status();
    if (read.value().ranges.empty() || read.value().next_offset <= offset) break;
    std::string bytes;
    for (const auto& range : read.value().ranges) {
      if (Status s = ReadRange(log.dir(), range, &bytes); !s.ok()) return s;
    }
    auto headers = kafka::ValidateRecordBatches(bytes);
    if (!headers.ok()) return headers.status();
    std::size_t pos = 0;
    for (const auto& h : headers.value()) {
      std::string_view batch = std::string_view(bytes).substr(pos, h.size_in_bytes());
      pos += static_cast<std::size_t>(h.size_in_bytes());
      std::string_view records = batch.substr(kafka::kRecordBatchHeaderSize);
      std::string decompressed;
      if (h.codec() != 0) {
        auto d = kafka::Decompress(static_cast<kafka::Codec>(h.codec()), records,
                                   kMaxDecompressedBytes);
        if (!d.ok()) return d.status();
        decompressed = std::move(d).value();
        records = decompressed;
      }
      std::vector<kafka::Record> decoded;
      if (Status s = kafka::DecodeRecords(records, h.records_count, &decoded); !s.ok()) return s;
      if (Status s = fn(h, decoded); !s.ok()) return s;
    }
    offset = read.value().next_offset;
  }
  return Status::Ok();
}

}  // namespace tern::broker::storage
