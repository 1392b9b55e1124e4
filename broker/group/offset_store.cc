#include "broker/group/offset_store.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "broker/cluster/topic_config.h"
#include "broker/group/consumer_group_records.h"
#include "kafka/compression.h"
#include "kafka/record_batch.h"
#include "kafka/record_batch_builder.h"
#include "kafka/records.h"
#include "broker/storage/record_reader.h"

namespace tern::broker::group {
namespace {

// A record's bytes beyond its key and value (length, attributes, deltas, header count).
constexpr std::size_t kRecordOverhead = 32;

// `records` as uncompressed batches, each within `max_batch_bytes` where possible (a single
// record larger than that gets a batch of its own, which the append then refuses).
std::string BuildBatches(const std::vector<kafka::RecordToBuild>& records,
                         std::int32_t max_batch_bytes) {
  const std::size_t budget =
      static_cast<std::size_t>(std::max<std::int32_t>(max_batch_bytes, 1024)) -
      kafka::kRecordBatchHeaderSize - 64;
  std::string out;
  std::vector<kafka::RecordToBuild> batch;
  std::size_t size = 0;
  for (const auto& r : records) {
    const std::size_t bytes =
        r.key.value_or("").size() + r.value.value_or("").size() + kRecordOverhead;
    if (!batch.empty() && size + bytes > budget) {
      out += kafka::BuildRecordBatch(batch);
      batch.clear();
      size = 0;
    }
    batch.push_back(r);
    size += bytes;
  }
  if (!batch.empty()) out += kafka::BuildRecordBatch(batch);
  return out;
}

}  // namespace

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(Topics& topics, GroupCommit& group_commit,
                                                       const OffsetStoreOptions& options) {
  const Topic* topic = topics.Find(kOffsetsTopic);
  if (topic == nullptr) {
    const TopicConfigs configs = {{"cleanup.policy", "compact"},
                                  {"segment.bytes", std::to_string(kSegmentBytes)}};
    auto created = topics.Create(kOffsetsTopic, options.partitions, configs);
    if (!created.ok()) {
      return Status::IoError("cannot create " + std::string(kOffsetsTopic) + ": " +
                             created.status().ToString());
    }
    topic = created.value();
  } else if (!IsCompacted(topics.defaults(), topic->configs)) {
    spdlog::warn("{} does not have cleanup.policy=compact: old commits are never cleaned",
                 kOffsetsTopic);
  }
  if (static_cast<std::int32_t>(topic->partitions.size()) != options.partitions) {
    spdlog::info("{} has {} partitions (not the configured {}); keeping them, as every group's "
                 "partition depends on the count",
                 kOffsetsTopic, topic->partitions.size(), options.partitions);
  }

  std::vector<std::shared_ptr<storage::PartitionLog>> logs;
  for (const auto& p : topic->partitions) logs.push_back(p.log);
  std::unique_ptr<OffsetStore> store(
      new OffsetStore(group_commit, options, std::move(logs)));
  const auto started = std::chrono::steady_clock::now();
  for (std::int32_t i = 0; i < store->partitions(); ++i) {
    if (store->logs_[static_cast<std::size_t>(i)] == nullptr) {
      spdlog::error("{}-{} is offline: the groups it holds are unavailable", kOffsetsTopic, i);
      continue;
    }
    if (Status s = store->Load(i); !s.ok()) {
      spdlog::error("{}-{} cannot be loaded, the groups it holds are unavailable: {}",
                    kOffsetsTopic, i, s.ToString());
      store->unavailable_.insert(i);
    }
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  spdlog::info("loaded {} committed offsets of {} groups from {} ({} partitions) in {} ms",
               store->offset_count(), store->groups_.size(), kOffsetsTopic, store->partitions(),
               elapsed.count());
  return store;
}

Status OffsetStore::Load(std::int32_t partition) {
  storage::PartitionLog& log = *logs_[static_cast<std::size_t>(partition)];
  std::size_t skipped = 0;
  auto& open_txns = txn_pending_[static_cast<std::size_t>(partition)];
  Status status = storage::ForEachRecordBatch(
      log, [&](const kafka::RecordBatchHeader& h, const std::vector<kafka::Record>& decoded) {
        if (h.is_control()) {
          // A transaction marker: the producer's transactional offset commits in this
          // partition take effect (commit) or are dropped (abort).
          if (!decoded.empty() && decoded.front().key.has_value()) {
            auto type = kafka::ParseControlRecordKey(*decoded.front().key);
            auto it = open_txns.find(h.producer_id);
            if (type.ok() && it != open_txns.end()) {
              if (type.value() == kafka::ControlRecordType::kCommit) {
                for (const auto& [group, change] : it->second) Apply(group, change);
              }
              open_txns.erase(it);
            }
          }
          return Status::Ok();
        }
        for (const auto& record : decoded) {
          if (!record.key.has_value()) {
            ++skipped;
            continue;
          }
          auto key = DecodeOffsetsRecordKey(*record.key);
          if (!key.ok()) {
            ++skipped;
            continue;
          }
          if (key.value().type == OffsetsRecordKey::Type::kGroupMetadata) {
            // A deleted group's offsets have tombstones of their own.
            if (!LoadGroupMetadata(key.value().group, record.value)) {
              spdlog::warn("{}-{} offset {}: skipping a group metadata record of {} that cannot "
                           "be decoded",
                           kOffsetsTopic, partition, h.base_offset + record.offset_delta,
                           key.value().group);
              ++skipped;
            }
            continue;
          }
          if (key.value().type == OffsetsRecordKey::Type::kOther) {
            if (auto ck = DecodeConsumerRecordKey(*record.key); ck.ok()) {
              KeyedRecords& kept = loaded_consumer_[ck.value().group];
              const std::string key_bytes(*record.key);
              if (record.value.has_value()) {
                kept[key_bytes] = std::string(*record.value);
              } else {
                kept.erase(key_bytes);
              }
            }
            continue;
          }
          if (key.value().type != OffsetsRecordKey::Type::kOffsetCommit) continue;
          OffsetChange change{key.value().topic, key.value().partition, std::nullopt};
          if (record.value.has_value()) {
            auto value = DecodeOffsetCommitValue(*record.value);
            if (!value.ok()) {
              spdlog::warn("{}-{} offset {}: skipping a record: {}", kOffsetsTopic, partition,
                           h.base_offset + record.offset_delta, value.status().ToString());
              ++skipped;
              continue;
            }
            change.value = std::move(value).value();
          }
          if (h.is_transactional()) {
            open_txns[h.producer_id].emplace_back(key.value().group, std::move(change));
          } else {
            Apply(key.value().group, change);
          }
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  if (skipped > 0) {
    spdlog::warn("{}-{}: {} records skipped while loading (no key or not decodable)",
                 kOffsetsTopic, partition, skipped);
  }
  if (!open_txns.empty()) {
    spdlog::info("{}-{}: transactional offset commits of {} producer(s) await their markers",
                 kOffsetsTopic, partition, open_txns.size());
  }
  return Status::Ok();
}

bool OffsetStore::LoadGroupMetadata(const std::string& group,
                                    const std::optional<std::string_view>& value) {
  if (!value.has_value()) {
    loaded_groups_.erase(group);
    return true;
  }
  auto decoded = DecodeGroupMetadataValue(*value);
  if (!decoded.ok()) return false;
  loaded_groups_[group] = std::move(decoded).value();
  return true;
}

std::map<std::string, GroupMetadataValue> OffsetStore::TakeLoadedGroups() {
  std::map<std::string, GroupMetadataValue> out;
  out.swap(loaded_groups_);
  return out;
}

std::map<std::string, KeyedRecords> OffsetStore::TakeLoadedConsumerRecords() {
  std::map<std::string, KeyedRecords> out;
  out.swap(loaded_consumer_);
  std::erase_if(out, [](const auto& e) { return e.second.empty(); });
  return out;
}

std::int32_t OffsetStore::PartitionFor(std::string_view group) const {
  return PartitionForGroup(group, partitions());
}

bool OffsetStore::Available(std::string_view group) const {
  const std::int32_t p = PartitionFor(group);
  return logs_[static_cast<std::size_t>(p)] != nullptr && unavailable_.count(p) == 0;
}

bool OffsetStore::AllAvailable() const {
  if (!unavailable_.empty()) return false;
  for (const auto& log : logs_) {
    if (log == nullptr) return false;
  }
  return true;
}

const GroupOffsets* OffsetStore::Find(const std::string& group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : &it->second;
}

const OffsetCommitValue* OffsetStore::Find(const std::string& group, const std::string& topic,
                                           std::int32_t partition) const {
  const GroupOffsets* g = Find(group);
  if (g == nullptr) return nullptr;
  auto t = g->find(topic);
  if (t == g->end()) return nullptr;
  auto p = t->second.find(partition);
  return p == t->second.end() ? nullptr : &p->second;
}

std::size_t OffsetStore::offset_count() const {
  std::size_t n = 0;
  for (const auto& [group, topics] : groups_) {
    for (const auto& [topic, partitions] : topics) n += partitions.size();
  }
  return n;
}

std::vector<std::pair<std::string, std::int32_t>> OffsetStore::PendingKeys(
    const std::string& group) const {
  std::vector<std::pair<std::string, std::int32_t>> out;
  for (const auto& write : pending_[static_cast<std::size_t>(PartitionFor(group))]) {
    if (write.group != group) continue;
    for (const auto& c : write.changes) out.emplace_back(c.topic, c.partition);
  }
  return out;
}

std::vector<std::pair<std::string, std::pair<std::string, std::int32_t>>>
OffsetStore::PendingKeysOfPartition(std::int32_t partition) const {
  std::vector<std::pair<std::string, std::pair<std::string, std::int32_t>>> out;
  for (const auto& write : pending_[static_cast<std::size_t>(partition)]) {
    for (const auto& c : write.changes) out.push_back({write.group, {c.topic, c.partition}});
  }
  return out;
}

void OffsetStore::Apply(const std::string& group, const OffsetChange& change) {
  if (change.value.has_value()) {
    groups_[group][change.topic][change.partition] = *change.value;
    return;
  }
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  auto t = g->second.find(change.topic);
  if (t == g->second.end()) return;
  t->second.erase(change.partition);
  if (t->second.empty()) g->second.erase(t);
  if (g->second.empty()) groups_.erase(g);
}

void OffsetStore::ApplyUpTo(std::int32_t partition, std::int64_t durable_end) {
  auto& queue = pending_[static_cast<std::size_t>(partition)];
  bool applied = false;
  while (!queue.empty() && queue.front().end_offset <= durable_end) {
    for (const auto& change : queue.front().changes) Apply(queue.front().group, change);
    queue.pop_front();
    applied = true;
  }
  if (applied && notifier_ != nullptr) notifier_->Notify({kOffsetsTopic, partition});
}

void OffsetStore::DropPendingPast(std::int32_t partition, std::int64_t durable_end) {
  ApplyUpTo(partition, durable_end);
  pending_[static_cast<std::size_t>(partition)].clear();
}

asio::awaitable<Status> OffsetStore::Write(std::string group, std::vector<OffsetChange> changes,
                                           bool group_tombstone) {
  const std::int32_t partition = PartitionFor(group);
  std::shared_ptr<storage::PartitionLog> log = logs_[static_cast<std::size_t>(partition)];
  if (!Available(group)) {
    co_return Status::Unavailable(std::string(kOffsetsTopic) + "-" + std::to_string(partition) +
                                  " is offline");
  }
  if (changes.empty() && !group_tombstone) co_return Status::Ok();

  const std::int64_t now = storage::SystemClockMs();
  std::vector<kafka::RecordToBuild> records;
  records.reserve(changes.size() + 1);
  for (const auto& c : changes) {
    kafka::RecordToBuild r;
    r.key = EncodeOffsetCommitKey(group, c.topic, c.partition);
    if (c.value.has_value()) r.value = EncodeOffsetCommitValue(*c.value);
    r.timestamp = now;
    records.push_back(std::move(r));
  }
  if (group_tombstone) {
    kafka::RecordToBuild r;
    r.key = EncodeGroupMetadataKey(group);
    r.timestamp = now;
    records.push_back(std::move(r));
  }
  auto end = Append(*log, records);
  if (!end.ok()) co_return end.status();
  pending_[static_cast<std::size_t>(partition)].push_back(
      PendingWrite{end.value(), std::move(group), std::move(changes)});
  if (!wait_for_fsync_) {
    ApplyUpTo(partition, end.value());
    co_return Status::Ok();
  }
  co_return co_await WaitPartitionDurable(partition);
}

asio::awaitable<Status> OffsetStore::WriteTxn(std::string group, std::int64_t producer_id,
                                              std::int16_t producer_epoch,
                                              std::vector<OffsetChange> changes) {
  const std::int32_t partition = PartitionFor(group);
  if (!Available(group)) {
    co_return Status::Unavailable(std::string(kOffsetsTopic) + "-" + std::to_string(partition) +
                                  " is offline");
  }
  if (changes.empty()) co_return Status::Ok();
  const std::int64_t now = storage::SystemClockMs();
  std::vector<kafka::RecordToBuild> records;
  for (const auto& c : changes) {
    kafka::RecordToBuild r;
    r.key = EncodeOffsetCommitKey(group, c.topic, c.partition);
    if (c.value.has_value()) r.value = EncodeOffsetCommitValue(*c.value);
    r.timestamp = now;
    records.push_back(std::move(r));
  }
  kafka::RecordBatchOptions options;
  options.attributes = 0x10;  // transactional
  options.producer_id = producer_id;
  options.producer_epoch = producer_epoch;
  auto& log = *logs_[static_cast<std::size_t>(partition)];
  auto appended = log.Append(kafka::BuildRecordBatch(records, options),
                             txn::AppendOrigin::kCoordinator);
  if (!appended.ok()) co_return appended.status();
  if (appended.value().error != kafka::ErrorCode::kNone) {
    co_return Status::InvalidArgument(appended.value().error_message);
  }
  auto& open = txn_pending_[static_cast<std::size_t>(partition)][producer_id];
  for (auto& c : changes) open.emplace_back(group, std::move(c));
  if (!wait_for_fsync_) co_return Status::Ok();
  co_return co_await WaitPartitionDurable(partition);
}

void OffsetStore::CompleteTxn(std::int32_t partition, std::int64_t producer_id, bool committed) {
  if (partition < 0 || partition >= partitions()) return;
  auto& open = txn_pending_[static_cast<std::size_t>(partition)];
  auto it = open.find(producer_id);
  if (it == open.end()) return;
  if (committed) {
    for (const auto& [group, change] : it->second) Apply(group, change);
  }
  open.erase(it);
  if (notifier_ != nullptr) notifier_->Notify({kOffsetsTopic, partition});
}

bool OffsetStore::HasPendingTxnOffset(const std::string& group, const std::string& topic,
                                      std::int32_t partition) const {
  for (const auto& [producer, changes] : txn_pending_[static_cast<std::size_t>(PartitionFor(group))]) {
    for (const auto& [g, change] : changes) {
      if (g == group && change.topic == topic && change.partition == partition) return true;
    }
  }
  return false;
}

Result<std::int64_t> OffsetStore::Append(storage::PartitionLog& log,
                                         const std::vector<kafka::RecordToBuild>& records) {
  auto appended = log.Append(BuildBatches(records, log.config().max_message_bytes));
  if (!appended.ok()) return appended.status();
  if (appended.value().error != kafka::ErrorCode::kNone) {
    return Status::Internal(appended.value().error_message);
  }
  return appended.value().last_offset + 1;
}

asio::awaitable<Status> OffsetStore::WaitPartitionDurable(std::int32_t partition) {
  std::shared_ptr<storage::PartitionLog> log = logs_[static_cast<std::size_t>(partition)];
  std::vector<std::shared_ptr<storage::PartitionLog>> to_sync;
  to_sync.push_back(log);
  const Status durable =
      co_await group_commit_.WaitDurable(std::move(to_sync), asio::use_awaitable);
  if (!durable.ok()) {
    DropPendingPast(partition, log->durable_end_offset());
    co_return durable;
  }
  ApplyUpTo(partition, log->durable_end_offset());
  co_return Status::Ok();
}

Status OffsetStore::AppendGroupMetadata(const std::string& group,
                                        const GroupMetadataValue& value) {
  return AppendRecords(group, {{EncodeGroupMetadataKey(group), EncodeGroupMetadataValue(value)}});
}

Status OffsetStore::AppendRecords(const std::string& group,
                                  const std::vector<KeyValue>& records) {
  if (records.empty()) return Status::Ok();
  const std::int32_t partition = PartitionFor(group);
  if (!Available(group)) {
    return Status::Unavailable(std::string(kOffsetsTopic) + "-" + std::to_string(partition) +
                               " is offline");
  }
  std::vector<kafka::RecordToBuild> batch;
  const std::int64_t now = storage::SystemClockMs();
  for (const auto& [key, value] : records) {
    kafka::RecordToBuild r;
    r.key = key;
    r.value = value;
    r.timestamp = now;
    batch.push_back(std::move(r));
  }
  auto end = Append(*logs_[static_cast<std::size_t>(partition)], batch);
  if (!end.ok()) return end.status();
  // A write without offset changes: it only orders the wake-up of fetches.
  pending_[static_cast<std::size_t>(partition)].push_back(PendingWrite{end.value(), group, {}});
  if (!wait_for_fsync_) ApplyUpTo(partition, end.value());
  return Status::Ok();
}

asio::awaitable<Status> OffsetStore::WaitDurable(std::string group) {
  if (!Available(group)) {
    co_return Status::Unavailable(std::string(kOffsetsTopic) + " partition of " + group +
                                  " is offline");
  }
  if (!wait_for_fsync_) co_return Status::Ok();
  co_return co_await WaitPartitionDurable(PartitionFor(group));
}

}  // namespace tern::broker::group
