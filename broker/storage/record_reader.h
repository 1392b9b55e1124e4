// ForEachRecordBatch: reads a partition log front to back, batch by batch, with each batch's
// records decoded (decompressed first when the batch is compressed). The broker's own
// internal topics (__consumer_offsets, __transaction_state) are rebuilt at start-up this way.
// Any thread may call it; it reads through PartitionLog::Read, so appends may continue.
#pragma once

#include <functional>
#include <vector>

#include "broker/storage/partition_log.h"
#include "common/status.h"
#include "kafka/record_batch.h"
#include "kafka/records.h"

namespace tern::broker::storage {

// Calls `fn` with every batch from the log start to the log end as it is when the call
// starts, and its records. Stops at the first error `fn` returns. Fails with the read's error
// (IoError), or Corruption/InvalidArgument when a batch or its records cannot be decoded.
Status ForEachRecordBatch(
    PartitionLog& log,
    const std::function<Status(const kafka::RecordBatchHeader&, const std::vector<kafka::Record>&)>&
        fn);

}  // namespace tern::broker::storage
