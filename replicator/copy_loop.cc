#include "replicator/copy_loop.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/wall_clock.h"
#include "replicator/map_rebuild.h"
#include "replicator/mm2_records.h"

namespace tern::replicator {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kTimeout{30000};
// How long start-up waits for the progress group's offsets to become stable.
constexpr std::chrono::milliseconds kStableProgressWait{15000};


Status ErrorStatus(rd_kafka_error_t* error, const std::string& what) {
  KafkaError owned(error);
  return Status::Unavailable(what + ": " + rd_kafka_error_string(error));
}

}  // namespace

void TopicSet::Publish(std::vector<ReplicatedTopic> topics) {
  auto next = std::make_shared<const std::vector<ReplicatedTopic>>(std::move(topics));
  std::lock_guard lock(mu_);
  if (*next == *topics_ && version_ != 0) return;
  topics_ = std::move(next);
  ++version_;
}

std::pair<std::shared_ptr<const std::vector<ReplicatedTopic>>, std::uint64_t> TopicSet::Current()
    const {
  std::lock_guard lock(mu_);
  return {topics_, version_};
}

// One source partition being copied.
struct CopyLoop::Flow {
  SourcePartition source;
  std::string target_topic;
  // The source offset after the last record taken from the consumer (copied or skipped);
  // -1 until known (a partition started from the beginning learns it from its first record).
  std::int64_t consumed = -1;
  // Progress last committed (store and target group).
  std::int64_t committed = -1;
  // Records handed to the producer and not yet acknowledged.
  std::int64_t in_flight = 0;
  // The source offset after the last acknowledged record, and the target offset after it.
  std::int64_t delivered = -1;
  std::int64_t next_target = 0;
  // Offset-map runs acknowledged since the last commit.
  std::vector<OffsetRun> runs;
  // The source partition was re-created or truncated: forget its map at the next commit.
  bool reset = false;
  std::int64_t last_timestamp_ms = -1;
  ErrorNote last_error;
};

struct CopyLoop::Impl {
  CopyLoop& self;
  const ReplicatorConfig& config;
  const bool exactly_once;
  KafkaHandle producer;
  KafkaHandle consumer;
  KafkaHandle progress_client;  // a consumer on the target, for the progress group's offsets
  KafkaHandle source_producer;  // offset-syncs, when they live on the source
  rd_kafka_consumer_group_metadata_t* group_metadata = nullptr;
  std::map<std::pair<std::string, std::int32_t>, Flow> flows;
  std::uint64_t topics_version = 0;
  std::uint64_t paused_version_seen = 0;
  bool in_transaction = false;
  Status delivery_error = Status::Ok();
  std::string offset_syncs_topic;

  explicit Impl(CopyLoop& loop)
      : self(loop),
        config(loop.config_),
        exactly_once(loop.config_.delivery == DeliveryMode::kExactlyOnce),
        offset_syncs_topic(mm2::OffsetSyncsTopic(loop.config_.target.alias)) {}

  ~Impl() {
    // Records still queued reference consumer messages (their values are not copied): purge
    // them, let their delivery reports release those messages, and only then close the
    // consumer.
    if (producer) {
      rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(producer.get(), 5000);
      producer.reset();
    }
    if (source_producer) rd_kafka_flush(source_producer.get(), 5000);
    if (group_metadata != nullptr) rd_kafka_consumer_group_metadata_destroy(group_metadata);
    if (consumer) rd_kafka_consumer_close(consumer.get());
    if (progress_client) rd_kafka_consumer_close(progress_client.get());
  }

  Flow* FindFlow(const char* topic, std::int32_t partition) {
    auto it = flows.find({topic, partition});
    return it == flows.end() ? nullptr : &it->second;
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* dr, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    auto* source = static_cast<rd_kafka_message_t*>(dr->_private);
    if (source == nullptr) {  // an offset-sync record
      if (dr->err != RD_KAFKA_RESP_ERR_NO_ERROR && impl->delivery_error.ok()) {
        impl->delivery_error =
            KafkaStatus(dr->err, "writing offset-syncs to " + impl->offset_syncs_topic);
      }
      return;
    }
    impl->Delivered(dr, source);
    rd_kafka_message_destroy(source);
  }

  // Quota throttling reported by a broker (called again with 0 when it ends).
  static void OnTargetThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque) {
    static_cast<Impl*>(opaque)->self.stats_.target_throttle_ms.fetch_add(
        ms, std::memory_order_relaxed);
  }
  static void OnSourceThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque) {
    static_cast<Impl*>(opaque)->self.stats_.source_throttle_ms.fetch_add(
        ms, std::memory_order_relaxed);
  }

  void Delivered(const rd_kafka_message_t* dr, const rd_kafka_message_t* source) {
    Flow* flow = FindFlow(rd_kafka_topic_name(source->rkt), source->partition);
    if (flow == nullptr) return;
    --flow->in_flight;
    if (dr->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (delivery_error.ok()) {
        delivery_error = KafkaStatus(
            dr->err, "delivering " + PartitionName(flow->target_topic, flow->source.partition) +
                         " (source offset " + std::to_string(source->offset) + ")");
        flow->last_error = {delivery_error.message(), WallClockMs()};
      }
      return;
    }
    const std::int64_t up = source->offset;
    const std::int64_t down = dr->offset;
    if (!flow->runs.empty() && flow->runs.back().upstream + flow->runs.back().length == up &&
        flow->runs.back().downstream + flow->runs.back().length == down) {
      ++flow->runs.back().length;
    } else {
      flow->runs.push_back({up, down, 1});
    }
    flow->delivered = up + 1;
    flow->next_target = down + 1;
    rd_kafka_timestamp_type_t ts_type;
    const std::int64_t ts = rd_kafka_message_timestamp(source, &ts_type);
    if (ts_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts > 0) {
      flow->last_timestamp_ms = ts;
      self.stats_.latency.Observe(static_cast<double>(std::max<std::int64_t>(WallClockMs() - ts, 0)) /
                                  1000.0);
    }
    self.stats_.records_copied.fetch_add(1, std::memory_order_relaxed);
    self.stats_.bytes_copied.fetch_add(
        static_cast<std::int64_t>(source->len + source->key_len), std::memory_order_relaxed);
  }

  Status CreateClients() {
    const std::int64_t half_kb = config.max_buffered_bytes / 2 / 1024;
    Settings producer_defaults = {{"linger.ms", "5"}, {"compression.type", "lz4"}};
    Settings producer_user = producer_defaults;
    for (const auto& [k, v] : config.target.client) producer_user[k] = v;
    Settings producer_fixed = {
        {"client.id", "tern-replicator." + config.target.alias},
        {"queue.buffering.max.kbytes", std::to_string(std::max<std::int64_t>(half_kb, 1024))},
        {"queue.buffering.max.messages", "10000000"},
        {"acks", "all"},
    };
    if (exactly_once) {
      producer_fixed["transactional.id"] = config.transactional_id;
    } else {
      producer_fixed["enable.idempotence"] = "true";
    }
    auto producer_or = NewClient(RD_KAFKA_PRODUCER, "target producer", producer_user,
                                 producer_fixed, [this](rd_kafka_conf_t* conf) {
                                   rd_kafka_conf_set_dr_msg_cb(conf, &Impl::OnDelivery);
                                   rd_kafka_conf_set_throttle_cb(conf, &Impl::OnTargetThrottle);
                                   rd_kafka_conf_set_opaque(conf, this);
                                 });
    if (!producer_or.ok()) return producer_or.status();
    producer = std::move(producer_or).value();

    Settings consumer_fixed = {
        {"client.id", "tern-replicator." + config.source.alias},
        {"group.id", config.transactional_id + ".source"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", "error"},
        {"isolation.level", "read_committed"},
        {"queued.max.messages.kbytes", std::to_string(std::max<std::int64_t>(half_kb, 1024))},
    };
    auto consumer_or = NewClient(RD_KAFKA_CONSUMER, "source consumer", config.source.client,
                                 consumer_fixed, [this](rd_kafka_conf_t* conf) {
                                   rd_kafka_conf_set_throttle_cb(conf, &Impl::OnSourceThrottle);
                                   rd_kafka_conf_set_opaque(conf, this);
                                 });
    if (!consumer_or.ok()) return consumer_or.status();
    consumer = std::move(consumer_or).value();
    rd_kafka_poll_set_consumer(consumer.get());

    auto progress_or = NewClient(
        RD_KAFKA_CONSUMER, "target progress client", config.target.client,
        ProgressClientSettings(exactly_once ? "read_committed" : "read_uncommitted"));
    if (!progress_or.ok()) return progress_or.status();
    progress_client = std::move(progress_or).value();
    group_metadata = rd_kafka_consumer_group_metadata_new(self.progress_group().c_str());
    if (config.offset_syncs_location == OffsetSyncsLocation::kSource) {
      auto syncs_or = NewClient(
          RD_KAFKA_PRODUCER, "source offset-syncs producer", config.source.client,
          {{"client.id", "tern-replicator." + config.source.alias + ".offset-syncs"},
           {"enable.idempotence", "true"}});
      if (!syncs_or.ok()) return syncs_or.status();
      source_producer = std::move(syncs_or).value();
    }
    return Status::Ok();
  }

  // Decides where each new flow starts: the target's committed progress wins (it commits
  // atomically with the data); the store is brought in line with it.
  Status StartFlows(std::vector<Flow> added) {
    if (added.empty()) return Status::Ok();
    PartitionList targets = NewPartitionList(static_cast<int>(added.size()));
    for (const auto& f : added) {
      rd_kafka_topic_partition_list_add(targets.get(), f.target_topic.c_str(), f.source.partition);
    }
    if (auto st = ReadProgress(targets.get()); !st.ok()) return st;
    PartitionList assignment = NewPartitionList(static_cast<int>(added.size()));
    std::vector<RebuildRequest> behind;
    for (std::size_t i = 0; i < added.size(); ++i) {
      Flow& f = added[i];
      const auto& tp = targets->elems[i];
      const std::int64_t on_target = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR ? tp.offset : -1;
      auto stored = self.store_.Progress(f.source);
      if (!stored.ok()) return stored.status();
      const auto& progress = stored.value();
      const std::string name = PartitionName(f.source.topic, f.source.partition);
      std::int64_t start = RD_KAFKA_OFFSET_BEGINNING;
      if (on_target >= 0) {
        start = on_target;
        if (progress && progress->next_source_offset > start) {
          spdlog::info("{}: the state dir is ahead of the progress committed on the target "
                       "({} > {}); resuming from the target's",
                       name, progress->next_source_offset, start);
          PartitionProgress p = *progress;
          p.next_source_offset = start;
          p.updated_ms = WallClockMs();
          if (auto st = self.store_.TruncateFrom(f.source, start, p); !st.ok()) return st;
        } else if (!progress || progress->next_source_offset < start) {
          spdlog::warn("{}: the state dir is behind the progress committed on the target "
                       "({} < {}); taking the target's and rebuilding the offset map in "
                       "between from the offset-syncs topic",
                       name, progress ? progress->next_source_offset : -1, start);
          std::int64_t low = 0, high = 0;
          rd_kafka_query_watermark_offsets(progress_client.get(), f.target_topic.c_str(),
                                           f.source.partition, &low, &high,
                                           static_cast<int>(kTimeout.count()));
          behind.push_back(
              {f.source, progress ? progress->next_source_offset : 0, start, high});
        }
        f.consumed = start;
        f.committed = start;
      } else if (progress) {
        spdlog::warn("{}: no progress committed on the target (group {}); resuming from the "
                     "state dir at {}",
                     name, self.progress_group(), progress->next_source_offset);
        start = progress->next_source_offset;
        f.consumed = start;
        f.committed = start;
      }
      spdlog::info("{} -> {}: copying from {}", name,
                   PartitionName(f.target_topic, f.source.partition),
                   start == RD_KAFKA_OFFSET_BEGINNING ? std::string("the beginning")
                                                      : "offset " + std::to_string(start));
      auto* e = rd_kafka_topic_partition_list_add(assignment.get(), f.source.topic.c_str(),
                                                  f.source.partition);
      e->offset = start;
    }
    if (auto st = RepairBehind(behind); !st.ok()) return st;
    if (KafkaError error(rd_kafka_incremental_assign(consumer.get(), assignment.get())); error) {
      return Status::Unavailable(std::string("assigning source partitions: ") +
                                 rd_kafka_error_string(error.get()));
    }
    for (auto& f : added) {
      auto key = std::make_pair(f.source.topic, f.source.partition);
      flows.emplace(std::move(key), std::move(f));
    }
    return Status::Ok();
  }

  // Reads the progress group's committed offsets into `targets`. Exactly-once reads them
  // stable (require_stable), which waits while a transaction holds pending offsets. Our own
  // transactions are resolved by init_transactions before this, so a wait that does not end is
  // the group coordinator holding a pending commit it lost track of (seen after a target
  // restart interrupted EndTxn; it clears only at the transaction timeout, or not at all):
  // then the last committed offsets are read without waiting — at worst they are older, which
  // copies some records again, never skips any.
  Status ReadProgress(rd_kafka_topic_partition_list_t* targets) {
    const std::string what = "reading committed progress of group " + self.progress_group();
    const int stable_ms = exactly_once ? static_cast<int>(kStableProgressWait.count())
                                       : static_cast<int>(kTimeout.count());
    rd_kafka_resp_err_t err = rd_kafka_committed(progress_client.get(), targets, stable_ms);
    bool unstable = err == RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < targets->cnt; ++i) {
      unstable |= targets->elems[i].err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT;
    }
    if (!exactly_once || !unstable) {
      return err == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::Ok() : KafkaStatus(err, what);
    }
    spdlog::warn("{}: still pending after {} s although this replicator's transactions are "
                 "resolved; reading the last committed offsets without waiting",
                 what, kStableProgressWait.count() / 1000);
    auto latest = NewClient(RD_KAFKA_CONSUMER, "target progress client", config.target.client,
                            ProgressClientSettings("read_uncommitted"));
    if (!latest.ok()) return latest.status();
    for (int i = 0; i < targets->cnt; ++i) {
      targets->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
      targets->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    err = rd_kafka_committed(latest.value().get(), targets, static_cast<int>(kTimeout.count()));
    rd_kafka_consumer_close(latest.value().get());
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::Ok() : KafkaStatus(err, what);
  }

  Settings ProgressClientSettings(const std::string& isolation) const {
    return {{"client.id", "tern-replicator." + config.target.alias + ".progress"},
            {"group.id", self.progress_group()},
            {"enable.auto.commit", "false"},
            {"isolation.level", isolation}};
  }

  // Brings the store up to the target's committed progress for partitions where it is
  // behind: runs from the offset-syncs topic, then the progress itself.
  Status RepairBehind(const std::vector<RebuildRequest>& behind) {
    if (behind.empty()) return Status::Ok();
    auto runs = RebuildRuns(config, behind);
    if (!runs.ok()) {
      spdlog::warn("rebuilding the offset map from offset-syncs: {}; offsets copied before "
                   "now will not translate",
                   runs.status().message());
    }
    for (const auto& r : behind) {
      PartitionUpdate update;
      update.partition = r.source;
      if (runs.ok() && runs.value().contains(r.source)) update.runs = runs.value().at(r.source);
      update.progress.next_source_offset = r.to;
      update.progress.next_target_offset = r.target_end;
      update.progress.updated_ms = WallClockMs();
      Status st = self.store_.Commit({update});
      if (!st.ok() && !update.runs.empty()) {
        spdlog::warn("{}: rebuilt runs refused ({}); keeping the progress only",
                     PartitionName(r.source.topic, r.source.partition), st.message());
        update.runs.clear();
        st = self.store_.Commit({update});
      }
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // Follows discovery: starts flows for new partitions. Flows of topics that disappeared at
  // the source stop once nothing of theirs is in flight.
  Status UpdateAssignment() {
    auto [topics, version] = self.topics_.Current();
    auto [paused, paused_version] = self.paused_.Current();
    if (version == topics_version && paused_version == paused_version_seen) return Status::Ok();
    std::map<std::pair<std::string, std::int32_t>, std::string> wanted;
    for (const auto& t : *topics) {
      if (paused.contains(t.source)) continue;
      for (std::int32_t p = 0; p < t.partitions; ++p) wanted[{t.source, p}] = t.target;
    }
    std::vector<Flow> added;
    const std::vector<PartitionStatus> published = self.stats_.Partitions();
    for (const auto& [key, target] : wanted) {
      if (flows.contains(key)) continue;
      Flow f;
      f.source = {key.first, key.second};
      f.target_topic = target;
      for (const auto& p : published) {  // an error is still worth showing after a restart
        if (p.source_topic == key.first && p.partition == key.second) f.last_error = p.last_error;
      }
      added.push_back(std::move(f));
    }
    PartitionList removed = NewPartitionList();
    for (auto it = flows.begin(); it != flows.end();) {
      if (wanted.contains(it->first) || it->second.in_flight > 0 || !it->second.runs.empty()) {
        ++it;
        continue;
      }
      spdlog::info("{}: {}; stopped copying", PartitionName(it->first.first, it->first.second),
                   paused.contains(it->first.first) ? "paused" : "no longer at the source");
      rd_kafka_topic_partition_list_add(removed.get(), it->first.first.c_str(), it->first.second);
      it = flows.erase(it);
    }
    if (removed->cnt > 0) {
      KafkaError error(rd_kafka_incremental_unassign(consumer.get(), removed.get()));
    }
    if (auto st = StartFlows(std::move(added)); !st.ok()) return st;
    topics_version = version;
    paused_version_seen = paused_version;
    return Status::Ok();
  }

  // The source offset of `flow` was out of range: records were deleted by retention before
  // they were copied, or the partition was re-created or truncated. Either way it is said
  // loudly and counted, and copying continues from the source's first record.
  Status HandleOutOfRange(Flow& flow) {
    const std::string name = PartitionName(flow.source.topic, flow.source.partition);
    std::int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        consumer.get(), flow.source.topic.c_str(), flow.source.partition, &low, &high,
        static_cast<int>(kTimeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "watermarks of " + name);
    const std::int64_t position = flow.consumed;
    if (position >= 0 && position < low) {
      self.stats_.records_lost.fetch_add(low - position);
      flow.last_error = {std::to_string(low - position) + " records (offsets " +
                             std::to_string(position) + ".." + std::to_string(low - 1) +
                             ") deleted by the source's retention before they were copied",
                         WallClockMs()};
      spdlog::error("{}: {} records (offsets {}..{}) were deleted by the source's retention "
                    "before they were copied; they are missing on the target",
                    name, low - position, position, low - 1);
    } else if (position > high) {
      self.stats_.source_resets.fetch_add(1);
      flow.reset = true;
      flow.last_error = {"the source partition was re-created or truncated (ends at " +
                             std::to_string(high) + ", " + std::to_string(position) +
                             " already copied)",
                         WallClockMs()};
      spdlog::error("{}: the source partition ends at {} but offsets up to {} were already "
                    "copied: the topic was re-created or truncated at the source; copying the "
                    "new log from its start ({}) after what is on the target",
                    name, high, position, low);
    }
    // With auto.offset.reset=error librdkafka has stopped fetching the partition by now, and
    // a seek does not restart a stopped partition (rd_kafka_seek_partitions() succeeds but
    // fails that partition with _STATE): assign it again at the new position instead.
    PartitionList at = NewPartitionList(1);
    rd_kafka_topic_partition_list_add(at.get(), flow.source.topic.c_str(), flow.source.partition)
        ->offset = low;
    if (KafkaError error(rd_kafka_incremental_unassign(consumer.get(), at.get())); error) {
      return Status::Unavailable("re-assigning " + name + ": " +
                                 rd_kafka_error_string(error.get()));
    }
    if (KafkaError error(rd_kafka_incremental_assign(consumer.get(), at.get())); error) {
      return Status::Unavailable("re-assigning " + name + ": " +
                                 rd_kafka_error_string(error.get()));
    }
    flow.consumed = low;
    return Status::Ok();
  }

  // Takes one consumed record: copies it (or skips it when it came from the target).
  Status Handle(rd_kafka_message_t* message, const std::atomic<bool>& stop) {
    Flow* flow = FindFlow(rd_kafka_topic_name(message->rkt), message->partition);
    if (flow == nullptr) {
      rd_kafka_message_destroy(message);
      return Status::Ok();
    }
    rd_kafka_headers_t* headers = nullptr;
    rd_kafka_headers_t* copied = nullptr;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      copied = rd_kafka_headers_copy(headers);
    }
    if (config.provenance_header) {
      const void* origin = nullptr;
      size_t origin_size = 0;
      if (copied != nullptr &&
          rd_kafka_header_get_last(copied, kOriginHeader, &origin, &origin_size) ==
              RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (origin_size == config.target.alias.size() &&
            std::memcmp(origin, config.target.alias.data(), origin_size) == 0) {
          // It came from the target in the first place: copying it back would loop.
          rd_kafka_headers_destroy(copied);
          flow->consumed = message->offset + 1;
          self.stats_.records_skipped_loop.fetch_add(1, std::memory_order_relaxed);
          rd_kafka_message_destroy(message);
          return Status::Ok();
        }
      } else {
        if (copied == nullptr) copied = rd_kafka_headers_new(1);
        rd_kafka_header_add(copied, kOriginHeader, -1, config.source.alias.data(),
                            static_cast<ssize_t>(config.source.alias.size()));
      }
    }
    if (exactly_once && !in_transaction) {
      if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer.get())) {
        if (copied != nullptr) rd_kafka_headers_destroy(copied);
        rd_kafka_message_destroy(message);
        return ErrorStatus(error, "beginning a transaction");
      }
      in_transaction = true;
    }
    rd_kafka_timestamp_type_t ts_type;
    std::int64_t timestamp = rd_kafka_message_timestamp(message, &ts_type);
    if (ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) timestamp = 0;
    const std::int64_t offset = message->offset;
    for (;;) {
      // The value is not copied: the consumer's message stays alive until its delivery
      // report, which destroys it.
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(flow->target_topic.c_str()),
          RD_KAFKA_V_PARTITION(message->partition),
          RD_KAFKA_V_KEY(message->key, message->key_len),
          RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_MSGFLAGS(0),
          RD_KAFKA_V_TIMESTAMP(timestamp),
          RD_KAFKA_V_HEADERS(copied != nullptr ? copied : rd_kafka_headers_new(0)),
          RD_KAFKA_V_OPAQUE(message), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stop.load()) {
        // Back-pressure: wait for deliveries; the consumer is not polled meanwhile, so its
        // bounded prefetch queue stops fetching.
        rd_kafka_poll(producer.get(), 20);
        if (!delivery_error.ok()) break;
        continue;
      }
      if (copied != nullptr) rd_kafka_headers_destroy(copied);
      rd_kafka_message_destroy(message);
      return KafkaStatus(err, "producing to " + flow->target_topic);
    }
    ++flow->in_flight;
    flow->consumed = offset + 1;
    return Status::Ok();
  }

  // What each flow's committed progress becomes now.
  std::int64_t CommitPosition(const Flow& f) const {
    if (exactly_once || f.in_flight == 0) return f.consumed;
    return f.delivered;
  }

  Status ProduceSyncs(rd_kafka_t* rk, const std::vector<mm2::OffsetSync>& syncs) {
    for (const auto& sync : syncs) {
      auto kv = mm2::Encode(sync);
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(offset_syncs_topic.c_str()), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_KEY(kv.key.data(), kv.key.size()),
            RD_KAFKA_V_VALUE(kv.value.data(), kv.value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return KafkaStatus(err, "producing to " + offset_syncs_topic);
        }
        rd_kafka_poll(rk, 20);
      }
    }
    return Status::Ok();
  }

  // Publishes each flow's progress and the source end librdkafka last saw (no request).
  void PublishStatus() {
    std::vector<PartitionStatus> out;
    out.reserve(flows.size());
    for (const auto& [key, f] : flows) {
      PartitionStatus p;
      p.source_topic = f.source.topic;
      p.partition = f.source.partition;
      p.target_topic = f.target_topic;
      p.replicated = f.committed;
      p.last_timestamp_ms = f.last_timestamp_ms;
      p.last_error = f.last_error;
      std::int64_t low = -1, high = -1;
      if (rd_kafka_get_watermark_offsets(consumer.get(), f.source.topic.c_str(),
                                         f.source.partition, &low,
                                         &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        p.source_end = high;
        // Started from the beginning and nothing committed yet: all of it is still to copy.
        if (p.replicated < 0 && low >= 0) p.replicated = low;
      }
      out.push_back(std::move(p));
    }
    self.stats_.PublishPartitions(std::move(out));
  }

  // Commits progress: exactly-once, as a transaction; at-least-once, after delivery.
  Status Commit() {
    if (exactly_once) {
      bool changed = false;
      for (const auto& [key, f] : flows) changed |= f.consumed != f.committed || f.reset;
      if (!changed && !in_transaction) return Status::Ok();
      if (!in_transaction) {
        if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer.get())) {
          return ErrorStatus(error, "beginning a transaction");
        }
        in_transaction = true;
      }
      rd_kafka_resp_err_t err =
          rd_kafka_flush(producer.get(), static_cast<int>(kTimeout.count()));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "flushing the producer");
    } else {
      rd_kafka_poll(producer.get(), 0);
    }
    if (!delivery_error.ok()) return delivery_error;

    std::vector<PartitionUpdate> updates;
    std::vector<SourcePartition> resets;
    std::vector<mm2::OffsetSync> syncs;
    PartitionList offsets = NewPartitionList();
    const std::int64_t now = WallClockMs();
    for (auto& [key, f] : flows) {
      const std::int64_t position = CommitPosition(f);
      if (position < 0 || (position == f.committed && !f.reset && f.runs.empty())) continue;
      if (f.reset) resets.push_back(f.source);
      for (const auto& run : f.runs) {
        syncs.push_back({f.source.topic, f.source.partition, run.upstream, run.downstream});
      }
      PartitionProgress progress;
      progress.next_source_offset = position;
      progress.next_target_offset = f.next_target;
      progress.updated_ms = now;
      updates.push_back({f.source, f.runs, progress});
      rd_kafka_topic_partition_list_add(offsets.get(), f.target_topic.c_str(), f.source.partition)
          ->offset = position;
    }
    if (!source_producer) {
      // On the target, the offset-syncs ride in the same transaction as the data.
      if (auto st = ProduceSyncs(producer.get(), syncs); !st.ok()) return st;
    }
    if (exactly_once && offsets->cnt > 0) {
      if (rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(
              producer.get(), offsets.get(), group_metadata, static_cast<int>(kTimeout.count()))) {
        return ErrorStatus(error, "adding progress to the transaction");
      }
    }
    // The store follows the target: it only ever holds committed progress, so translations
    // never point into a transaction that might still abort. A crash between the two leaves
    // the store behind, which start-up repairs from the target.
    if (exactly_once) {
      if (rd_kafka_error_t* error = rd_kafka_commit_transaction(
              producer.get(), static_cast<int>(kTimeout.count()))) {
        return ErrorStatus(error, "committing a transaction");
      }
      in_transaction = false;
    }
    for (const auto& source : resets) {
      if (auto st = self.store_.Forget(source); !st.ok()) return st;
    }
    if (!updates.empty()) {
      if (auto st = self.store_.Commit(updates); !st.ok()) return st;
    }
    if (!exactly_once && offsets->cnt > 0) {
      rd_kafka_resp_err_t err = rd_kafka_commit(progress_client.get(), offsets.get(), 0);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("committing progress to group {} on the target: {} (the state dir has it; "
                     "retrying at the next commit)",
                     self.progress_group(), rd_kafka_err2str(err));
      }
    }
    if (source_producer) {
      // On the source they follow the commit; they serve MirrorMaker 2's tooling only, so a
      // failure is worth a warning, not a restart.
      if (auto st = ProduceSyncs(source_producer.get(), syncs); !st.ok()) {
        self.stats_.offset_sync_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("offset-syncs on the source: {}", st.message());
      }
      rd_kafka_poll(source_producer.get(), 0);
    }
    for (auto& [key, f] : flows) {
      const std::int64_t position = CommitPosition(f);
      if (position < 0) continue;
      f.committed = position;
      f.runs.clear();
      f.reset = false;
    }
    self.stats_.commits.fetch_add(1, std::memory_order_relaxed);
    self.stats_.last_commit_ms.store(WallClockMs(), std::memory_order_relaxed);
    return Status::Ok();
  }

  void AbortIfNeeded() {
    if (exactly_once && in_transaction && producer) {
      if (rd_kafka_error_t* error =
              rd_kafka_abort_transaction(producer.get(), static_cast<int>(kTimeout.count()))) {
        spdlog::warn("aborting the transaction: {}", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      }
      in_transaction = false;
    }
  }

  Status Run(const std::atomic<bool>& stop) {
    if (auto st = CreateClients(); !st.ok()) return st;
    if (exactly_once) {
      // Also fences an older instance with the same transactional id and aborts what it left
      // open, so the committed progress read next is final.
      if (rd_kafka_error_t* error =
              rd_kafka_init_transactions(producer.get(), static_cast<int>(kTimeout.count()))) {
        return ErrorStatus(error, "initializing transactions on the target");
      }
    }
    const auto interval = std::chrono::milliseconds(config.commit_interval_ms);
    auto deadline = Clock::now() + interval;
    self.stats_.copying.store(true);
    while (!stop.load()) {
      if (!in_transaction) {
        if (auto st = UpdateAssignment(); !st.ok()) return st;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      const int wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
      if (rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), wait_ms)) {
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          Status st = ConsumerError(message);
          rd_kafka_message_destroy(message);
          if (!st.ok()) return st;
        } else if (auto st = Handle(message, stop); !st.ok()) {
          return st;
        }
      }
      rd_kafka_poll(producer.get(), 0);
      if (!delivery_error.ok()) return delivery_error;
      if (Clock::now() >= deadline) {
        if (auto st = Commit(); !st.ok()) return st;
        PublishStatus();
        deadline = Clock::now() + interval;
      }
    }
    return Commit();
  }

  Status ConsumerError(const rd_kafka_message_t* message) {
    const rd_kafka_resp_err_t err = message->err;
    if (err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      Flow* flow = message->rkt != nullptr
                       ? FindFlow(rd_kafka_topic_name(message->rkt), message->partition)
                       : nullptr;
      if (flow != nullptr) {
        // Progress must be committed before the position jumps, in its own transaction.
        if (auto st = Commit(); !st.ok()) return st;
        return HandleOutOfRange(*flow);
      }
      return Status::Ok();
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(consumer.get(), reason, sizeof reason);
      return Status::Unavailable(std::string("source consumer: ") + reason);
    }
    // Transport and leadership errors are retried by librdkafka itself; say so once.
    spdlog::warn("source consumer: {}", rd_kafka_message_errstr(message));
    return Status::Ok();
  }
};

CopyLoop::CopyLoop(const ReplicatorConfig& config, const TopicNaming& naming,
                   CheckpointStore& store, const TopicSet& topics, const PausedTopics& paused,
                   EngineStats& stats)
    : config_(config),
      naming_(naming),
      store_(store),
      topics_(topics),
      paused_(paused),
      stats_(stats) {}

CopyLoop::~CopyLoop() = default;

Status CopyLoop::Run(const std::atomic<bool>& stop) {
  Impl impl(*this);
  Status st = impl.Run(stop);
  if (!st.ok()) {
    impl.AbortIfNeeded();
    if (impl.consumer) impl.PublishStatus();  // with the partitions' last errors
  }
  stats_.copying.store(false);
  return st;
}

}  // namespace tern::replicator
