#include "kafka/txn_marker.h"

#include <vector>

#include "kafka/record_batch.h"
#include "kafka/record_batch_builder.h"
#include "kafka/records.h"
#include "kafka/wire.h"

namespace tern::kafka {
namespace {

constexpr std::int16_t kTransactionalAndControl = 0x10 | 0x20;

}  // namespace

std::string BuildTxnMarkerBatch(const TxnMarker& marker) {
  Writer value;
  value.WriteInt16(0);
  value.WriteInt32(marker.coordinator_epoch);
  RecordToBuild record;
  record.key = EncodeControlRecordKey(marker.committed ? ControlRecordType::kCommit
                                                       : ControlRecordType::kAbort);
  record.value = value.TakeBuffer();
  record.timestamp = marker.timestamp;
  RecordBatchOptions options;
  options.attributes = kTransactionalAndControl;
  options.producer_id = marker.producer_id;
  options.producer_epoch = marker.producer_epoch;
  options.base_sequence = -1;
  return BuildRecordBatch({record}, options);
}

std::optional<bool> MarkerCommitted(std::string_view batch) {
  auto header = ParseRecordBatchHeader(batch);
  if (!header.ok() || !header.value().is_control() || header.value().codec() != 0 ||
      batch.size() < static_cast<std::size_t>(header.value().size_in_bytes())) {
    return std::nullopt;
  }
  const auto size = static_cast<std::size_t>(header.value().size_in_bytes());
  std::vector<Record> records;
  if (!DecodeRecords(batch.substr(kRecordBatchHeaderSize, size - kRecordBatchHeaderSize),
                     header.value().records_count, &records)
           .ok() ||
      records.empty() || !records.front().key.has_value()) {
    return std::nullopt;
  }
  auto type = ParseControlRecordKey(*records.front().key);
  if (!type.ok()) return std::nullopt;
  return type.value() == ControlRecordType::kCommit;
}

}  // namespace tern::kafka
