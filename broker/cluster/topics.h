// Topics: the broker's topics and their partition logs. Each topic's definition (id, partition
// count, configs set on it) is a small JSON file <data_dir>/topics/<name>.json written durably
// (temp file, fsync, rename, fsync of the folder) before any partition exists, and removed
// first on deletion, so a crash never leaves a partition without its topic. Partition logs
// live in <data_dir>/<topic>-<partition>/ (storage/partition_log.h).
//
// Network thread only, except that PartitionLog methods are themselves thread-safe and the
// flusher and retention threads reach logs through ForEachLog, which takes the lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/cluster/topic_config.h"
#include "broker/storage/partition_log.h"
#include "common/result.h"
#include "kafka/wire.h"

namespace tern::broker {

struct Partition {
  std::int32_t index = 0;
  std::shared_ptr<storage::PartitionLog> log;  // null when it failed to open
  Status open_error;                            // why, when log is null
};

struct Topic {
  std::string name;
  kafka::Uuid id{};
  TopicConfigs configs;  // only those set on the topic
  std::vector<Partition> partitions;
  bool internal = false;  // __consumer_offsets and the like
};

class Topics {
 public:
  Topics(std::string data_dir, BrokerLogDefaults defaults);

  // Loads every topic definition and opens its partitions. A partition that fails recovery is
  // kept with its error (served as KAFKA_STORAGE_ERROR); other partitions carry on.
  Status Load();

  // Validates the name (Kafka's rules: 1..249 of [a-zA-Z0-9._-], not "." or ".."), the count
  // and every config; AlreadyExists when the topic exists. With `validate_only` nothing is made.
  Result<const Topic*> Create(const std::string& name, std::int32_t partitions,
                              const TopicConfigs& configs, bool validate_only = false);
  Status Delete(const std::string& name);
  // Grows the topic to `count` partitions; InvalidArgument if count is not larger.
  Status AddPartitions(const std::string& name, std::int32_t count, bool validate_only = false);
  // Replaces the configs set on the topic (after validating each) and applies them to its logs.
  Status SetConfigs(const std::string& name, const TopicConfigs& configs,
                    bool validate_only = false);

  const Topic* Find(const std::string& name) const;
  const Topic* FindById(const kafka::Uuid& id) const;
  // The log of one partition, or null when the topic or partition does not exist or failed.
  std::shared_ptr<storage::PartitionLog> Log(const std::string& topic, std::int32_t partition) const;
  std::vector<const Topic*> All() const;

  // Calls `fn` for every open log; safe from any thread.
  void ForEachLog(const std::function<void(storage::PartitionLog&)>& fn) const;

  const BrokerLogDefaults& defaults() const { return defaults_; }

  // Kafka's topic-name rules; InvalidArgument saying which one is broken.
  static Status ValidateName(const std::string& name);

 private:
  Status WriteDefinition(const Topic& topic) const;
  Partition OpenPartition(const Topic& topic, std::int32_t index) const;
  std::string PartitionDir(const std::string& topic, std::int32_t index) const;

  const std::string data_dir_;
  const BrokerLogDefaults defaults_;
  mutable std::mutex mu_;  // guards the map's shape against ForEachLog from other threads
  std::map<std::string, std::unique_ptr<Topic>> topics_;
};

// A new random topic id (never all zero).
kafka::Uuid NewTopicId();

}  // namespace tern::broker
