// ListOffsets: the earliest (-2), latest (-1) or max-timestamp (-3) offset of each partition,
// or the first offset whose timestamp is at least the one asked for. -4 (earliest local) is the
// earliest, as all data is local; -5 (latest tiered) finds nothing, as nothing is tiered.
// Timestamp lookups answer with a record, not a batch: the index finds the batch, and its
// records (decompressed if need be) give the exact offset and timestamp.
#include "broker/broker_context.h"
#include "broker/handlers/errors.h"
#include "broker/handlers/handlers.h"
#include "kafka/compression.h"
#include "kafka/record_batch.h"
#include "kafka/records.h"

#include <unistd.h>

namespace tern::broker {
namespace {

constexpr std::int64_t kLatest = -1;
constexpr std::int64_t kEarliest = -2;
constexpr std::int64_t kMaxTimestamp = -3;
constexpr std::int64_t kEarliestLocal = -4;
constexpr std::int64_t kLatestTiered = -5;
constexpr std::size_t kMaxDecompressedBatch = 64 * 1024 * 1024;

// The first record of the batch at `batch_offset` whose timestamp is at least `target`, or
// (with `want_max`) the first record carrying the batch's largest timestamp.
Result<storage::TimestampOffset> FindRecord(storage::PartitionLog& log, std::int64_t batch_offset,
                                            std::int64_t target, bool want_max) {
  auto read = log.Read(batch_offset, 1, /*min_one_batch=*/true, log.log_end_offset());
  if (!read.ok()) return read.status();
  if (read.value().ranges.empty()) return Status::NotFound("no batch at that offset");
  const kafka::FileRange& range = read.value().ranges.front();
  std::string bytes(static_cast<std::size_t>(range.length), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(range.fd, bytes.data() + done, bytes.size() - done,
                              range.position + static_cast<off_t>(done));
    if (n <= 0) return Status::IoError("reading " + log.dir() + " for ListOffsets");
    done += static_cast<std::size_t>(n);
  }
  auto header = kafka::ParseRecordBatchHeader(bytes);
  if (!header.ok()) return header.status();
  const auto& h = header.value();
  const std::size_t size = static_cast<std::size_t>(h.size_in_bytes());
  if (h.timestamp_type() == kafka::TimestampType::kLogAppendTime) {
    return storage::TimestampOffset{h.base_offset, h.max_timestamp};
  }
  std::string_view records = std::string_view(bytes).substr(kafka::kRecordBatchHeaderSize,
                                                            size - kafka::kRecordBatchHeaderSize);
  std::string decompressed;
  if (h.codec() != 0) {
    auto d = kafka::Decompress(static_cast<kafka::Codec>(h.codec()), records,
                               kMaxDecompressedBatch);
    if (!d.ok()) return d.status();
    decompressed = std::move(d).value();
    records = decompressed;
  }
  std::vector<kafka::Record> decoded;
  if (auto s = kafka::DecodeRecords(records, h.records_count, &decoded); !s.ok()) return s;
  for (const auto& r : decoded) {
    const std::int64_t ts = h.base_timestamp + r.timestamp_delta;
    if (want_max ? ts == h.max_timestamp : ts >= target) {
      return storage::TimestampOffset{h.base_offset + r.offset_delta, ts};
    }
  }
  return Status::NotFound("no record in the batch matches");
}

}  // namespace

asio::awaitable<Result<Reply>> HandleListOffsets(RequestContext& ctx, kafka::Reader& body,
                                                 kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  kafka::ListOffsetsRequest request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  kafka::ListOffsetsResponse response;
  for (const auto& want : request.topics) {
    kafka::ListOffsetsResponse::ListOffsetsTopicResponse t;
    t.name = want.name;
    for (const auto& wp : want.partitions) {
      kafka::ListOffsetsResponse::ListOffsetsPartitionResponse p;
      p.partition_index = wp.partition_index;
      auto log = broker.topics().Log(want.name, wp.partition_index);
      if (log == nullptr) {
        p.error_code = kafka::Code(broker.topics().Find(want.name) != nullptr
                                       ? kafka::ErrorCode::kKafkaStorageError
                                       : kafka::ErrorCode::kUnknownTopicOrPartition);
        if (broker.topics().Find(want.name) != nullptr &&
            wp.partition_index >= static_cast<std::int32_t>(
                                      broker.topics().Find(want.name)->partitions.size())) {
          p.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicOrPartition);
        }
        t.partitions.push_back(std::move(p));
        continue;
      }
      const std::int64_t durable_end = broker.config().fsync == FsyncPolicy::kAlways
                                           ? log->durable_end_offset()
                                           : log->log_end_offset();
      // read_committed (v2+) sees up to the last stable offset.
      const std::int64_t hw = version >= 2 && request.isolation_level == 1
                                  ? log->LastStableOffset(durable_end)
                                  : durable_end;
      p.leader_epoch = 0;
      switch (wp.timestamp) {
        case kLatest:
          p.offset = hw;
          break;
        case kEarliest:
        case kEarliestLocal:
          p.offset = log->log_start_offset();
          break;
        case kLatestTiered:
          break;
        case kMaxTimestamp:
          if (auto m = log->MaxTimestampOffset()) {
            auto exact = FindRecord(*log, m->offset, 0, /*want_max=*/true);
            p.offset = exact.ok() ? exact.value().offset : m->offset;
            p.timestamp = exact.ok() ? exact.value().timestamp : m->timestamp;
          }
          break;
        default: {
          if (wp.timestamp < 0) {
            p.error_code = kafka::Code(kafka::ErrorCode::kInvalidRequest);
            break;
          }
          auto found = log->OffsetForTimestamp(wp.timestamp);
          if (!found.ok()) {
            p.error_code = kafka::Code(ToKafkaError(found.status()));
          } else if (found.value() && found.value()->offset < hw) {
            auto exact = FindRecord(*log, found.value()->offset, wp.timestamp, false);
            p.offset = exact.ok() ? exact.value().offset : found.value()->offset;
            p.timestamp = exact.ok() ? exact.value().timestamp : found.value()->timestamp;
          }
        }
      }
      t.partitions.push_back(std::move(p));
    }
    response.topics.push_back(std::move(t));
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
