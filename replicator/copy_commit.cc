// Commits: the transaction (records, offset-syncs, progress) in exactly-once mode, or
// progress after delivery in at-least-once mode; and the status published after each.
#include <spdlog/spdlog.h>

#include "common/failpoint.h"
#include "common/wall_clock.h"
#include "replicator/copy_loop_impl.h"

namespace tern::replicator {

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::int64_t CopyLoop::Impl::CommitPosition(const Flow& f) const {
  if (exactly_once || f.in_flight == 0) return f.consumed;
  return f.delivered;
}

Status CopyLoop::Impl::ProduceSyncs(rd_kafka_t* rk, rd_kafka_topic_t* topic,
                                    const std::vector<mm2::OffsetSync>& syncs) {
  for (const auto& sync : syncs) {
    auto kv = mm2::Encode(sync);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(0),
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

Status CopyLoop::Impl::PrepareInStore(const std::vector<PartitionUpdate>& updates,
                                      const std::vector<SourcePartition>& resets) {
  // A partition being reset is forgotten before its commit is stored, so its update would
  // not apply to the store as it is: start-up falls back to the target's progress for it.
  std::vector<PartitionUpdate> prepared;
  prepared.reserve(updates.size());
  for (const auto& u : updates) {
    if (std::find(resets.begin(), resets.end(), u.partition) == resets.end()) {
      prepared.push_back(u);
    }
  }
  return self.store_.Prepare(prepared);
}

void CopyLoop::Impl::PublishStatus() {
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

void CopyLoop::Impl::StepOverControlRecords() {
  if (flows.empty()) return;
  PartitionList positions = FlowPartitions();
  if (rd_kafka_position(consumer.get(), positions.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  for (int i = 0; i < positions->cnt; ++i) {
    const auto& tp = positions->elems[i];
    Flow* flow = FindFlow(tp.topic, tp.partition);
    if (flow == nullptr) continue;
    std::int64_t position = flow->resumed_at;
    if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset > position) position = tp.offset;
    // Not while records taken are still waiting for the producer: the position is past them.
    if (flow->queued == 0 && position > flow->consumed) flow->consumed = position;
  }
}

Status CopyLoop::Impl::Commit() {
  StepOverControlRecords();
  const auto started = Clock::now();
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
    // Everything handed to the producer must be delivered before the commit. Meanwhile the
    // consumer's records keep being taken (not produced: they belong to the next
    // transaction), so its fetch queue never fills up and stalls.
    const auto flush_deadline = Clock::now() + kTimeout;
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_flush(producer.get(), 2);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || Clock::now() >= flush_deadline) {
        return KafkaStatus(err, "flushing the producer");
      }
      if (!delivery_error.ok()) return delivery_error;
      if (auto st = TakeAvailable(0); !st.ok()) return st;
      ControlFetching();
    }
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
    if (auto st = ProduceSyncs(producer.get(), offset_syncs.get(), syncs); !st.ok()) return st;
  }
  if (exactly_once && offsets->cnt > 0) {
    if (rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(
            producer.get(), offsets.get(), group_metadata, static_cast<int>(kTimeout.count()))) {
      return ErrorStatus(error, "adding progress to the transaction");
    }
  }
  // The store follows the target: it only ever holds committed progress, so translations
  // never point into a transaction that might still abort. A crash between the two leaves
  // the store behind, which start-up repairs from the target; the prepared updates tell it
  // what was being committed when the target cannot (see SettlePrepared).
  if (exactly_once) {
    if (auto st = PrepareInStore(updates, resets); !st.ok()) return st;
    DieAtFailpoint("replicator.before-target-commit");
    if (rd_kafka_error_t* error = rd_kafka_commit_transaction(
            producer.get(), static_cast<int>(kTimeout.count()))) {
      return ErrorStatus(error, "committing a transaction");
    }
    in_transaction = false;
    DieAtFailpoint("replicator.after-target-commit");
  }
  if (!resets.empty() || !updates.empty()) {
    const auto store_started = Clock::now();
    for (const auto& source : resets) {
      if (auto st = self.store_.Forget(source); !st.ok()) return st;
    }
    if (!updates.empty()) {
      if (auto st = self.store_.Commit(updates); !st.ok()) return st;
    }
    self.stats_.store_write_duration.Observe(Seconds(Clock::now() - store_started));
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
    if (auto st = ProduceSyncs(source_producer.get(), source_offset_syncs.get(), syncs);
        !st.ok()) {
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
  self.stats_.commit_duration.Observe(Seconds(Clock::now() - started));
  self.stats_.commits.fetch_add(1, std::memory_order_relaxed);
  self.stats_.last_commit_ms.store(WallClockMs(), std::memory_order_relaxed);
  return Status::Ok();
}

void CopyLoop::Impl::AbortIfNeeded() {
  if (exactly_once && in_transaction && producer) {
    if (rd_kafka_error_t* error =
            rd_kafka_abort_transaction(producer.get(), static_cast<int>(kTimeout.count()))) {
      spdlog::warn("aborting the transaction: {}", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
    in_transaction = false;
  }
}

}  // namespace tern::replicator
