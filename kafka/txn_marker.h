// Transaction markers: the control batches a transaction coordinator writes into each partition
// of a transaction to end it. A marker batch has the transactional and control attribute bits,
// the producer's id and epoch, no sequence (-1), and one record whose key is the control record
// key (version 0, type 0 abort / 1 commit) and whose value is the end-transaction marker:
// version int16 = 0, coordinator epoch int32. Pure; any thread may call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::kafka {

struct TxnMarker {
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t coordinator_epoch = 0;
  bool committed = false;
  std::int64_t timestamp = 0;
};

// A whole, valid marker batch at base offset 0.
std::string BuildTxnMarkerBatch(const TxnMarker& marker);

// Whether the control batch `batch` (whole, uncompressed as markers are) is a commit (true) or
// an abort (false) marker; nullopt when it is not a readable transaction marker.
std::optional<bool> MarkerCommitted(std::string_view batch);

}  // namespace tern::kafka
