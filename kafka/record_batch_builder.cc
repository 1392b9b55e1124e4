#include "kafka/record_batch_builder.h"

#include <algorithm>

#include "common/crc32c.h"
#include "kafka/record_batch.h"
#include "kafka/wire.h"

namespace tern::kafka {
namespace {

void WriteVarintBytes(Writer& w, const std::optional<std::string>& bytes) {
  if (!bytes) {
    w.WriteVarint(-1);
    return;
  }
  w.WriteVarint(static_cast<std::int32_t>(bytes->size()));
  w.WriteRaw(*bytes);
}

std::string EncodeRecord(const RecordToBuild& record, std::int64_t base_timestamp,
                         std::int32_t offset_delta) {
  Writer body;
  body.WriteInt8(0);  // record attributes: unused
  body.WriteVarlong(record.timestamp - base_timestamp);
  body.WriteVarint(offset_delta);
  WriteVarintBytes(body, record.key);
  WriteVarintBytes(body, record.value);
  body.WriteVarint(static_cast<std::int32_t>(record.headers.size()));
  for (const RecordHeaderField& h : record.headers) {
    body.WriteVarint(static_cast<std::int32_t>(h.key.size()));
    body.WriteRaw(h.key);
    WriteVarintBytes(body, h.value);
  }
  Writer out;
  out.WriteVarint(static_cast<std::int32_t>(body.buffer().size()));
  out.WriteRaw(body.buffer());
  return out.TakeBuffer();
}

}  // namespace

std::string BuildRecordBatch(const std::vector<RecordToBuild>& records,
                             const RecordBatchOptions& options) {
  const std::int64_t base_timestamp = records.empty() ? 0 : records.front().timestamp;
  std::int64_t max_timestamp = base_timestamp;
  for (const RecordToBuild& r : records) max_timestamp = std::max(max_timestamp, r.timestamp);

  Writer w;
  w.WriteInt64(options.base_offset);
  w.WriteInt32(0);  // batchLength, patched below
  w.WriteInt32(options.partition_leader_epoch);
  w.WriteInt8(kRecordBatchMagic);
  w.WriteUint32(0);  // crc, patched below
  w.WriteInt16(static_cast<std::int16_t>(options.attributes & ~0x7));
  w.WriteInt32(records.empty() ? 0 : static_cast<std::int32_t>(records.size() - 1));
  w.WriteInt64(base_timestamp);
  w.WriteInt64(max_timestamp);
  w.WriteInt64(options.producer_id);
  w.WriteInt16(options.producer_epoch);
  w.WriteInt32(options.base_sequence);
  w.WriteInt32(static_cast<std::int32_t>(records.size()));
  for (std::size_t i = 0; i < records.size(); ++i) {
    w.WriteRaw(EncodeRecord(records[i], base_timestamp, static_cast<std::int32_t>(i)));
  }
  w.PatchInt32(kBatchLengthPosition,
               static_cast<std::int32_t>(w.buffer().size() - kRecordBatchLogOverhead));
  std::string batch = w.TakeBuffer();
  const std::uint32_t crc =
      crc32c::Value(std::string_view(batch).substr(kAttributesPosition));
  for (int i = 0; i < 4; ++i) {
    batch[kCrcPosition + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
  }
  return batch;
}

}  // namespace tern::kafka
