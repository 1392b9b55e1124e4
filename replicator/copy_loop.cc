#include "replicator/copy_loop_impl.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/wall_clock.h"

namespace tern::replicator {

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

Status CopyLoop::Impl::TopicHandleError(const std::string& topic) {
  return Status::Unavailable("opening topic " + topic + " on the producer: " +
                             rd_kafka_err2str(rd_kafka_last_error()));
}

Status CopyLoop::Impl::ErrorStatus(rd_kafka_error_t* error, const std::string& what) {
  KafkaError owned(error);
  return Status::Unavailable(what + ": " + rd_kafka_error_string(error));
}

CopyLoop::Impl::~Impl() {
  // Records still queued reference consumer messages (their values are not copied): purge
  // them, let their delivery reports release those messages, and only then close the
  // consumer.
  if (producer) {
    rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer.get(), 5000);
    for (auto& [key, f] : flows) f.target.reset();  // topic handles go before their producer
    offset_syncs.reset();
    producer.reset();
  }
  for (auto& p : pending) {  // taken from the consumer, never produced: copied again later
    if (p.headers != nullptr) rd_kafka_headers_destroy(p.headers);
    rd_kafka_message_destroy(p.message);
  }
  pending.clear();
  if (source_producer) rd_kafka_flush(source_producer.get(), 5000);
  source_offset_syncs.reset();
  if (group_metadata != nullptr) rd_kafka_consumer_group_metadata_destroy(group_metadata);
  fetch_queue.reset();
  if (consumer) rd_kafka_consumer_close(consumer.get());
  if (progress_client) rd_kafka_consumer_close(progress_client.get());
}

PartitionList CopyLoop::Impl::FlowPartitions() const {
  PartitionList list = NewPartitionList(static_cast<int>(flows.size()));
  for (const auto& [key, f] : flows) {
    rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second);
  }
  return list;
}

CopyLoop::Flow* CopyLoop::Impl::FindFlow(const char* topic, std::int32_t partition) {
  auto it = flows.find({topic, partition});
  return it == flows.end() ? nullptr : &it->second;
}

void CopyLoop::Impl::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* dr, void* opaque) {
  auto* impl = static_cast<Impl*>(opaque);
  auto* source = static_cast<rd_kafka_message_t*>(dr->_private);
  if (source == nullptr) {  // an offset-sync record
    if (dr->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    impl->self.stats_.offset_sync_failures.fetch_add(1, std::memory_order_relaxed);
    if (impl->delivery_error.ok()) {
      impl->delivery_error =
          KafkaStatus(dr->err, "writing offset-syncs to " + impl->offset_syncs_topic);
    }
    return;
  }
  impl->Delivered(dr, source);
  rd_kafka_message_destroy(source);
}

void CopyLoop::Impl::OnSourceSyncDelivery(rd_kafka_t*, const rd_kafka_message_t* dr,
                                          void* opaque) {
  if (dr->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* impl = static_cast<Impl*>(opaque);
  impl->self.stats_.offset_sync_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("offset-syncs on the source: writing to {}: {}", impl->offset_syncs_topic,
               rd_kafka_err2str(dr->err));
}

void CopyLoop::Impl::OnTargetThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque) {
  static_cast<Impl*>(opaque)->self.stats_.target_throttle_ms.fetch_add(
      ms, std::memory_order_relaxed);
}

void CopyLoop::Impl::OnSourceThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque) {
  static_cast<Impl*>(opaque)->self.stats_.source_throttle_ms.fetch_add(
      ms, std::memory_order_relaxed);
}

void CopyLoop::Impl::Delivered(const rd_kafka_message_t* dr, const rd_kafka_message_t* source) {
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

Status CopyLoop::Impl::CreateClients() {
  // max_buffered_bytes: a quarter to the producer's queue (librdkafka keeps at most five
  // requests in flight per broker anyway), a quarter to the consumer's fetch queue and half
  // to `pending`, which takes what arrives while a transaction is flushed and committed.
  const std::int64_t quarter_kb =
      std::max<std::int64_t>(config.max_buffered_bytes / 4 / 1024, 1024);
  Settings producer_defaults = {{"linger.ms", "5"}, {"compression.type", "lz4"}};
  Settings producer_user = producer_defaults;
  for (const auto& [k, v] : config.target.client) producer_user[k] = v;
  Settings producer_fixed = {
      {"client.id", "tern-replicator." + config.target.alias},
      {"queue.buffering.max.kbytes", std::to_string(quarter_kb)},
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
  offset_syncs = NewTopicHandle(producer.get(), offset_syncs_topic);
  if (!offset_syncs) return TopicHandleError(offset_syncs_topic);

  Settings consumer_fixed = {
      {"client.id", "tern-replicator." + config.source.alias},
      {"group.id", config.transactional_id + ".source"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "error"},
      {"isolation.level", "read_committed"},
      {"queued.max.messages.kbytes", std::to_string(quarter_kb)},
  };
  fetch_queue_bytes = quarter_kb * 1024;
  auto consumer_or = NewClient(RD_KAFKA_CONSUMER, "source consumer", config.source.client,
                               consumer_fixed, [this](rd_kafka_conf_t* conf) {
                                 rd_kafka_conf_set_throttle_cb(conf, &Impl::OnSourceThrottle);
                                 rd_kafka_conf_set_opaque(conf, this);
                               });
  if (!consumer_or.ok()) return consumer_or.status();
  consumer = std::move(consumer_or).value();
  rd_kafka_poll_set_consumer(consumer.get());
  fetch_queue.reset(rd_kafka_queue_get_consumer(consumer.get()));
  if (!fetch_queue) return Status::Internal("the source consumer has no consumer queue");

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
         {"enable.idempotence", "true"}},
        [this](rd_kafka_conf_t* conf) {
          rd_kafka_conf_set_dr_msg_cb(conf, &Impl::OnSourceSyncDelivery);
          rd_kafka_conf_set_opaque(conf, this);
        });
    if (!syncs_or.ok()) return syncs_or.status();
    source_producer = std::move(syncs_or).value();
    source_offset_syncs = NewTopicHandle(source_producer.get(), offset_syncs_topic);
    if (!source_offset_syncs) return TopicHandleError(offset_syncs_topic);
  }
  return Status::Ok();
}

Status CopyLoop::Impl::TakeAvailable(int wait_ms) {
  // Near its limit (a fetch response may have been refused room since), counting records
  // at the mean size taken so far; the loop comes here right after its other work, when the
  // queue is fullest.
  const std::int64_t mean = taken_records > 0 ? taken_bytes / taken_records + 1 : 1024;
  if (static_cast<std::int64_t>(rd_kafka_queue_length(fetch_queue.get())) * mean >=
      fetch_queue_bytes / 4 * 3) {
    fetch_queue_filled = true;
  }
  // All there is, up to the limit: a fetch response on loopback brings megabytes at once,
  // and librdkafka's own queue must not fill up.
  while (pending_bytes < pending_limit) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), wait_ms);
    if (message == nullptr) {
      // Empty, so the seek drops nothing; while paused, the resume seeks anyway.
      if (fetch_queue_filled && !fetch_paused && !flows.empty()) {
        WakeFetcher(FlowPartitions().get());
        self.stats_.fetch_wakeups.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("source consumer: its fetch queue had filled up; woke the fetcher");
      }
      fetch_queue_filled = false;
      break;
    }
    wait_ms = 0;
    ++taken_records;
    taken_bytes += static_cast<std::int64_t>(message->len + message->key_len);
    if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
      Status st = ConsumerError(message);
      rd_kafka_message_destroy(message);
      return st;
    }
    Pending p{message};
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      p.flow = FindFlow(rd_kafka_topic_name(message->rkt), message->partition);
      if (p.flow != nullptr) {
        ++p.flow->queued;
        pending_bytes += static_cast<std::int64_t>(message->len + message->key_len);
      }
    }
    pending.push_back(p);
  }
  return Status::Ok();
}

rd_kafka_message_t* CopyLoop::Impl::PopFront() {
  const Pending front = pending.front();
  pending.pop_front();
  rd_kafka_message_t* message = front.message;
  if (front.flow != nullptr) {
    --front.flow->queued;
    pending_bytes -= static_cast<std::int64_t>(message->len + message->key_len);
  }
  return message;
}

Status CopyLoop::Impl::ProducePending() {
  bool taken = true;
  while (!pending.empty() && taken) {
    if (auto st = ProduceFront(taken); !st.ok()) return st;
  }
  return Status::Ok();
}

Status CopyLoop::Impl::ProduceFront(bool& taken) {
  taken = true;
  Pending& front = pending.front();
  rd_kafka_message_t* message = front.message;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    PopFront();
    Status st = ConsumerError(message);
    rd_kafka_message_destroy(message);
    return st;
  }
  Flow* flow = front.flow;
  if (flow == nullptr) {
    rd_kafka_message_destroy(PopFront());
    return Status::Ok();
  }
  if (!front.prepared) {
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
          rd_kafka_message_destroy(PopFront());
          return Status::Ok();
        }
      } else {
        if (copied == nullptr) copied = rd_kafka_headers_new(1);
        rd_kafka_header_add(copied, kOriginHeader, -1, config.source.alias.data(),
                            static_cast<ssize_t>(config.source.alias.size()));
      }
    }
    front.headers = copied != nullptr ? copied : rd_kafka_headers_new(0);
    front.prepared = true;
  }
  if (exactly_once && !in_transaction) {
    if (StartDelayLeftMs() > 0) {
      taken = false;  // the next transaction begins a little after the last commit
      return Status::Ok();
    }
    if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer.get())) {
      return ErrorStatus(error, "beginning a transaction");
    }
    in_transaction = true;
  }
  rd_kafka_timestamp_type_t ts_type;
  std::int64_t timestamp = rd_kafka_message_timestamp(message, &ts_type);
  if (ts_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) timestamp = 0;
  // The value is not copied: the consumer's message stays alive until its delivery report,
  // which destroys it. The headers belong to the producer once it takes the record.
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer.get(), RD_KAFKA_V_RKT(flow->target.get()),
      RD_KAFKA_V_PARTITION(message->partition), RD_KAFKA_V_KEY(message->key, message->key_len),
      RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_MSGFLAGS(0),
      RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_HEADERS(front.headers),
      RD_KAFKA_V_OPAQUE(message), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    taken = false;  // back-pressure: it waits for deliveries to make room
    return Status::Ok();
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaStatus(err, "producing to " + flow->target_topic);
  }
  front.headers = nullptr;
  PopFront();
  ++flow->in_flight;
  flow->consumed = message->offset + 1;
  return Status::Ok();
}

void CopyLoop::Impl::ControlFetching() {
  if (!fetch_paused && pending_bytes >= pending_limit && !flows.empty()) {
    fetch_paused = FlowPartitions();
    // Pausing drops what the consumer fetched and the loop has not taken yet (little: it
    // keeps that drained); fetching resumes right after the last record taken.
    rd_kafka_pause_partitions(consumer.get(), fetch_paused.get());
    self.stats_.fetch_pauses.fetch_add(1, std::memory_order_relaxed);
  } else if (fetch_paused && pending_bytes <= pending_limit / 4) {
    ResumeFetching();
  }
}

void CopyLoop::Impl::ResumeFetching() {
  if (!fetch_paused) return;
  // Only what was paused: resuming a partition that is not paused would make librdkafka
  // drop its fetch queue and fetch from an older position.
  rd_kafka_resume_partitions(consumer.get(), fetch_paused.get());
  // librdkafka 2.0 does not wake the fetcher on a resume either (it would wait up to a
  // second for its next round).
  WakeFetcher(fetch_paused.get());
  fetch_paused.reset();
}

bool CopyLoop::Impl::CaughtUp() {
  if (flows.empty()) return false;
  // Flow by flow, cheapest first, so a flow that lags ends the look at once.
  for (const auto& [key, f] : flows) {
    if (f.queued > 0) return false;
    std::int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(consumer.get(), key.first.c_str(), key.second, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      return false;  // no fetch answered yet
    }
    const std::int64_t taken = std::max(f.resumed_at, f.consumed);
    if (taken >= high || (taken < 0 && high <= low)) continue;
    // Transaction markers after the last record taken: only the consumer's position steps
    // over them.
    PartitionList one = NewPartitionList(1);
    rd_kafka_topic_partition_list_add(one.get(), key.first.c_str(), key.second);
    if (rd_kafka_position(consumer.get(), one.get()) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        one->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || one->elems[0].offset < high) {
      return false;
    }
  }
  return true;
}

void CopyLoop::Impl::WakeFetcher(const rd_kafka_topic_partition_list_t* partitions) {
  PartitionList positions(rd_kafka_topic_partition_list_copy(partitions));
  if (rd_kafka_position(consumer.get(), positions.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  // The seek leaves librdkafka without a position until the next record: `resumed_at` keeps
  // it, also for the next seek if no record comes in between.
  PartitionList at = NewPartitionList(positions->cnt);
  for (int i = 0; i < positions->cnt; ++i) {
    const auto& tp = positions->elems[i];
    Flow* flow = FindFlow(tp.topic, tp.partition);
    if (flow == nullptr) continue;
    std::int64_t position = flow->resumed_at;
    if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0) position = tp.offset;
    if (position < 0) continue;  // nothing taken yet: it starts where it was assigned
    rd_kafka_topic_partition_list_add(at.get(), tp.topic, tp.partition)->offset = position;
    flow->resumed_at = position;
  }
  if (at->cnt > 0) {
    KafkaError error(rd_kafka_seek_partitions(consumer.get(), at.get(), 0));
  }
}

Status CopyLoop::Impl::Run(const std::atomic<bool>& stop) {
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
    if (auto st = ProducePending(); !st.ok()) return st;
    // With the producer's queue full, records keep being taken while there is room, then
    // the loop waits for deliveries; otherwise it waits for records.
    const bool producer_full = !pending.empty();
    // Exactly-once: a transaction that holds everything the source had commits at once, so
    // read_committed consumers on the target wait for copying, not for the interval.
    if (exactly_once && in_transaction && !producer_full && CaughtUp()) {
      if (auto st = Commit(); !st.ok()) return st;
      next_transaction_at =
          Clock::now() + std::chrono::milliseconds(config.transaction_start_delay_ms);
      self.stats_.early_commits.fetch_add(1, std::memory_order_relaxed);
      PublishStatus();
      deadline = Clock::now() + interval;
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    const int wait_ms =
        producer_full ? 0 : static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
    if (auto st = TakeAvailable(wait_ms); !st.ok()) return st;
    ControlFetching();
    const int start_delay_ms = StartDelayLeftMs();
    rd_kafka_poll(producer.get(), !producer_full ? 0 : start_delay_ms > 0 ? start_delay_ms : 5);
    if (!delivery_error.ok()) return delivery_error;
    if (Clock::now() >= deadline) {
      if (auto st = Commit(); !st.ok()) return st;
      PublishStatus();
      deadline = Clock::now() + interval;
    }
  }
  return Commit();
}

Status CopyLoop::Impl::ConsumerError(const rd_kafka_message_t* message) {
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
