// OffsetStore: the committed offsets of every group (group → topic → partition → offset,
// leader epoch, metadata, commit time), held in memory and made durable as records of the
// compacted __consumer_offsets topic in the broker's own storage (offsets_records.h has the
// formats). A group's records all go to one partition of the topic, Kafka's
// abs(hashCode(group)) % partitions, so compaction keeps the latest record of each key.
//
// Open creates the topic when it is missing and rebuilds the map by reading every partition
// from its log start: the latest record of each key wins and a tombstone removes it.
//
// Open also keeps the latest GroupMetadata record of each group (a tombstone removes it), for
// the coordinator to rebuild the groups' membership from (TakeLoadedGroups), and the latest
// record of every key of consumer-protocol groups (TakeLoadedConsumerRecords).
//
// A write appends the records of one group as one append to the group's partition and, under
// fsync "always", waits for the group commit to make them durable; only then do they become
// visible to lookups, so nothing a client read can be lost by a crash. Writes that are
// appended but not yet durable are "pending": they are applied in log order as the durable end
// of their partition passes them, whatever order their waits complete in.
//
// Network thread only: lookups and writes run on the broker's executor, as handlers do.
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/cluster/topics.h"
#include "broker/data_notifier.h"
#include "broker/group/group_metadata_record.h"
#include "broker/group/offsets_records.h"
#include "broker/group_commit.h"
#include "common/result.h"
#include "kafka/record_batch_builder.h"

namespace tern::broker::group {

using PartitionOffsets = std::map<std::int32_t, OffsetCommitValue>;
// A group's records of other kinds by key (consumer_group_records.h): the latest value of each.
using KeyedRecords = std::map<std::string, std::string>;
// One record to append: a key and its value, or a tombstone.
using KeyValue = std::pair<std::string, std::optional<std::string>>;
using GroupOffsets = std::map<std::string, PartitionOffsets>;  // by topic name

// One key of a write: a new value for the topic-partition, or its removal (a tombstone).
struct OffsetChange {
  std::string topic;
  std::int32_t partition = 0;
  std::optional<OffsetCommitValue> value;  // nullopt: delete
};

struct OffsetStoreOptions {
  // Partitions of __consumer_offsets when Open creates it; an existing topic keeps its count,
  // since the partition of every group depends on it.
  std::int32_t partitions = 50;
  // fsync "always": a write waits for its records to be durable before it is applied.
  bool wait_for_fsync = true;
  // Told of each applied write, to wake fetches of __consumer_offsets; may be null.
  DataNotifier* notifier = nullptr;
};

class OffsetStore {
 public:
  // Segment size of __consumer_offsets (Kafka's offsets.topic.segment.bytes): compaction only
  // cleans rolled segments, and start-up replays whatever it has not cleaned.
  static constexpr std::int64_t kSegmentBytes = 100LL * 1024 * 1024;

  // Creates the topic (cleanup.policy=compact) when missing and loads every partition. Fails
  // when the topic cannot be created. Undecodable records are skipped with a warning. A
  // partition that is offline or cannot be read makes the groups it holds unavailable (see
  // Available); the others are served.
  static Result<std::unique_ptr<OffsetStore>> Open(Topics& topics, GroupCommit& group_commit,
                                                   const OffsetStoreOptions& options);

  std::int32_t partitions() const { return static_cast<std::int32_t>(logs_.size()); }
  std::int32_t PartitionFor(std::string_view group) const;
  // False when the group's partition is offline or failed to load: its offsets are unknown, so
  // they must be neither served nor written.
  bool Available(std::string_view group) const;
  // True when every partition is loaded and online.
  bool AllAvailable() const;

  // What is durable and visible. Null / empty when nothing is committed.
  const GroupOffsets* Find(const std::string& group) const;
  const OffsetCommitValue* Find(const std::string& group, const std::string& topic,
                                std::int32_t partition) const;
  const std::map<std::string, GroupOffsets>& groups() const { return groups_; }
  std::size_t offset_count() const;

  // Writes appended for the group that are not yet visible: their keys (removals included).
  std::vector<std::pair<std::string, std::int32_t>> PendingKeys(const std::string& group) const;
  // The same for every group of one partition of __consumer_offsets: (group, (topic, partition)).
  std::vector<std::pair<std::string, std::pair<std::string, std::int32_t>>> PendingKeysOfPartition(
      std::int32_t partition) const;

  // Appends `changes` (keys of `group`) and, with `group_tombstone`, a tombstone of the
  // group's GroupMetadata record, as Kafka writes when a group is deleted; returns once they
  // are durable and visible. Every change is written or none is: an error (the append or the
  // fsync failed; TooLarge when a record exceeds the topic's max.message.bytes) leaves the
  // visible state as it was, though a record whose fsync failed may reappear after a restart.
  asio::awaitable<Status> Write(std::string group, std::vector<OffsetChange> changes,
                                bool group_tombstone = false);

  // Appends the group's GroupMetadata record at once, so that it lands in the log after every
  // record appended before the call and before every one appended after it. Unavailable when
  // the partition is offline; the append's error otherwise (TooLarge past max.message.bytes).
  Status AppendGroupMetadata(const std::string& group, const GroupMetadataValue& value);
  // Appends records of the group (consumer-protocol group records) at once, in one batch, in
  // the same order as AppendGroupMetadata; WaitDurable waits for them.
  Status AppendRecords(const std::string& group, const std::vector<KeyValue>& records);
  // Completes once everything appended so far to the group's partition is durable (at once
  // unless the store waits for fsync), or with the fsync's error.
  asio::awaitable<Status> WaitDurable(std::string group);

  // A transactional offset commit (TxnOffsetCommit): appends `changes` as one transactional
  // batch of the producer and returns once it is durable. The changes stay invisible until
  // CompleteTxn applies (commit) or drops (abort) them; Open finds them again after a restart
  // and resolves them by the markers in the log.
  asio::awaitable<Status> WriteTxn(std::string group, std::int64_t producer_id,
                                   std::int16_t producer_epoch, std::vector<OffsetChange> changes);
  // The transaction coordinator wrote the producer's marker into `partition` durably.
  void CompleteTxn(std::int32_t partition, std::int64_t producer_id, bool committed);
  // Whether a transaction not yet ended holds an offset of the key (OffsetFetch answers
  // UNSTABLE_OFFSET_COMMIT to clients that require stable offsets).
  bool HasPendingTxnOffset(const std::string& group, const std::string& topic,
                           std::int32_t partition) const;

  // The GroupMetadata records Open found, by group; the second call returns nothing.
  std::map<std::string, GroupMetadataValue> TakeLoadedGroups();
  // The consumer-protocol groups' records Open found, by group; the second call returns nothing.
  std::map<std::string, KeyedRecords> TakeLoadedConsumerRecords();

 private:
  struct PendingWrite {
    std::int64_t end_offset;  // one past the last record of the write
    std::string group;
    std::vector<OffsetChange> changes;
  };

  OffsetStore(GroupCommit& group_commit, const OffsetStoreOptions& options,
              std::vector<std::shared_ptr<storage::PartitionLog>> logs)
      : group_commit_(group_commit), wait_for_fsync_(options.wait_for_fsync),
        notifier_(options.notifier), logs_(std::move(logs)), pending_(logs_.size()),
        txn_pending_(logs_.size()) {}

  Status Load(std::int32_t partition);
  // Keeps (or, for a tombstone, forgets) a group's GroupMetadata record read by Load; false
  // when the value cannot be decoded.
  bool LoadGroupMetadata(const std::string& group, const std::optional<std::string_view>& value);
  // Appends `records` as batches; returns the offset after the last one.
  Result<std::int64_t> Append(storage::PartitionLog& log,
                              const std::vector<kafka::RecordToBuild>& records);
  // Waits for the partition's appended records to be durable, then applies the pending
  // writes that are.
  asio::awaitable<Status> WaitPartitionDurable(std::int32_t partition);
  void Apply(const std::string& group, const OffsetChange& change);
  // Applies the pending writes of `partition` that end at or before `durable_end`.
  void ApplyUpTo(std::int32_t partition, std::int64_t durable_end);
  // After a failed fsync: forgets the pending writes past what is durable.
  void DropPendingPast(std::int32_t partition, std::int64_t durable_end);

  GroupCommit& group_commit_;
  const bool wait_for_fsync_;
  DataNotifier* const notifier_;
  const std::vector<std::shared_ptr<storage::PartitionLog>> logs_;  // by partition
  std::vector<std::deque<PendingWrite>> pending_;                   // by partition, log order
  // Transactional offset commits awaiting their marker: by partition, by producer id.
  std::vector<std::map<std::int64_t, std::vector<std::pair<std::string, OffsetChange>>>>
      txn_pending_;
  std::set<std::int32_t> unavailable_;  // partitions that failed to load
  std::map<std::string, GroupOffsets> groups_;
  std::map<std::string, GroupMetadataValue> loaded_groups_;  // until TakeLoadedGroups
  std::map<std::string, KeyedRecords> loaded_consumer_;      // until TakeLoadedConsumerRecords
};

}  // namespace tern::broker::group
