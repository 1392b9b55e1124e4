// Where flows start and how they follow discovery: the target's committed progress,
// repairing the store from it, assignment changes, positions out of range.
#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "common/wall_clock.h"
#include "replicator/copy_loop_impl.h"
#include "replicator/txn_outcome.h"

namespace tern::replicator {

Status CopyLoop::Impl::StartFlows(std::vector<Flow> added) {
  if (added.empty()) return Status::Ok();
  PartitionList targets = NewPartitionList(static_cast<int>(added.size()));
  for (const auto& f : added) {
    rd_kafka_topic_partition_list_add(targets.get(), f.target_topic.c_str(), f.source.partition);
  }
  bool stable = true;
  if (auto st = ReadProgress(targets.get(), &stable); !st.ok()) return st;
  std::vector<std::optional<PartitionProgress>> stored;
  stored.reserve(added.size());
  for (const auto& f : added) {
    auto one = self.store_.Progress(f.source);
    if (!one.ok()) return one.status();
    stored.push_back(std::move(one).value());
  }
  if (exactly_once) {
    if (auto st = SettlePrepared(added, targets.get(), stable, stored); !st.ok()) return st;
  }
  std::vector<std::int64_t> ends;
  if (auto st = TargetEnds(added, stored, targets.get(), ends); !st.ok()) return st;
  PartitionList assignment = NewPartitionList(static_cast<int>(added.size()));
  std::vector<RebuildRequest> behind;
  for (std::size_t i = 0; i < added.size(); ++i) {
    Flow& f = added[i];
    f.target = NewTopicHandle(producer.get(), f.target_topic);
    if (!f.target) return TopicHandleError(f.target_topic);
    const auto& tp = targets->elems[i];
    const std::int64_t on_target = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR ? tp.offset : -1;
    std::optional<PartitionProgress>& progress = stored[i];
    const std::string name = PartitionName(f.source.topic, f.source.partition);
    std::int64_t start = RD_KAFKA_OFFSET_BEGINNING;
    if (on_target >= 0) {
      start = on_target;
      if (progress && progress->next_source_offset > start && !stable) {
        // The target answered with the offsets before a commit whose own are still pending;
        // the state dir only ever holds progress whose transaction committed, so it is the
        // later truth, and resuming from the target's would copy committed records again.
        spdlog::warn("{}: the progress committed on the target is not stable yet ({}); the "
                     "state dir holds committed progress up to {}: resuming from it",
                     name, start, progress->next_source_offset);
        start = progress->next_source_offset;
      } else if (progress && progress->next_source_offset > start) {
        spdlog::info("{}: the state dir is ahead of the progress committed on the target "
                     "({} > {}); resuming from the target's",
                     name, progress->next_source_offset, start);
        progress->next_source_offset = start;
        progress->updated_ms = WallClockMs();
        if (auto st = self.store_.TruncateFrom(f.source, start, *progress); !st.ok()) return st;
      } else if (!progress || progress->next_source_offset < start) {
        spdlog::warn("{}: the state dir is behind the progress committed on the target "
                     "({} < {}); taking the target's and rebuilding the offset map in "
                     "between from the offset-syncs topic",
                     name, progress ? progress->next_source_offset : -1, start);
        const std::int64_t end = std::max<std::int64_t>(ends[i], 0);
        behind.push_back({f.source, progress ? progress->next_source_offset : 0, start, end});
        progress.reset();  // rebuilt below, ending at the target's end
        f.next_target = end;
      }
    } else if (progress) {
      spdlog::warn("{}: no progress committed on the target (group {}); resuming from the "
                   "state dir at {}",
                   name, self.progress_group(), progress->next_source_offset);
      start = progress->next_source_offset;
    }
    if (progress && ends[i] >= 0 && progress->next_target_offset > ends[i]) {
      auto resumed = RewindToTargetEnd(f, *progress, ends[i]);
      if (!resumed.ok()) return resumed.status();
      start = resumed.value();
      progress->next_target_offset = ends[i];
    }
    if (progress) f.next_target = progress->next_target_offset;
    if (start >= 0) {
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

Status CopyLoop::Impl::TargetEnds(const std::vector<Flow>& added,
                                  const std::vector<std::optional<PartitionProgress>>& stored,
                                  const rd_kafka_topic_partition_list_t* committed,
                                  std::vector<std::int64_t>& ends) {
  ends.assign(added.size(), -1);
  // Only a partition the store or the target group knows needs its end: a new one starts
  // from the beginning whatever the target holds.
  PartitionList wanted = NewPartitionList(static_cast<int>(added.size()));
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto& c = committed->elems[i];
    if (!stored[i] && !(c.err == RD_KAFKA_RESP_ERR_NO_ERROR && c.offset >= 0)) continue;
    // offsets_for_times with a timestamp of -1 asks ListOffsets for the latest offset.
    rd_kafka_topic_partition_list_add(wanted.get(), added[i].target_topic.c_str(),
                                      added[i].source.partition)
        ->offset = RD_KAFKA_OFFSET_END;
    index.push_back(i);
  }
  if (index.empty()) return Status::Ok();
  // read_uncommitted: the high watermark, not a last stable offset that another producer's
  // open transaction could hold back.
  auto client = NewClient(RD_KAFKA_CONSUMER, "target end reader", config.target.client,
                          ProgressClientSettings("read_uncommitted"));
  if (!client.ok()) return client.status();
  // A target topic the topic sync has just created may not have a leader yet: ask again.
  const auto deadline = Clock::now() + kTimeout;
  Status result = Status::Ok();
  for (;;) {
    PartitionList ask(rd_kafka_topic_partition_list_copy(wanted.get()));
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(client.value().get(), ask.get(),
                                                         static_cast<int>(kTimeout.count()));
    std::string failed;
    for (int j = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && j < ask->cnt; ++j) {
      const auto& e = ask->elems[j];
      if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR && e.offset >= 0) {
        ends[index[j]] = e.offset;
      } else if (failed.empty()) {
        failed = PartitionName(e.topic, e.partition) + ": " +
                 rd_kafka_err2str(e.err != RD_KAFKA_RESP_ERR_NO_ERROR
                                      ? e.err
                                      : RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE);
      }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && failed.empty()) break;
    if (Clock::now() >= deadline) {
      result = err != RD_KAFKA_RESP_ERR_NO_ERROR
                   ? KafkaStatus(err, "reading the end offsets of the target partitions")
                   : Status::Unavailable("reading the end offset of " + failed);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  rd_kafka_consumer_close(client.value().get());
  return result;
}

Result<std::int64_t> CopyLoop::Impl::RewindToTargetEnd(Flow& f, const PartitionProgress& progress,
                                                       std::int64_t target_end) {
  const std::string name = PartitionName(f.source.topic, f.source.partition);
  auto runs = self.store_.Runs(f.source, 0, progress.next_source_offset);
  if (!runs.ok()) return runs.status();
  auto floor = self.store_.Floor(f.source);
  if (!floor.ok()) return floor.status();
  const ResumePoint at = ResumeOnShorterTarget(runs.value(), floor.value(), target_end);
  self.stats_.target_resets.fetch_add(1);
  f.last_error = {"the target partition ends at " + std::to_string(target_end) +
                      " but the state dir says records were copied up to " +
                      std::to_string(progress.next_target_offset) +
                      "; copying again from " +
                      (at.source >= 0 ? "source offset " + std::to_string(at.source)
                                      : std::string("the source's start")),
                  WallClockMs()};
  spdlog::error("{}: the target partition {} ends at {}, but the state dir says records were "
                "copied up to target offset {}: the target lost records, or is not the cluster "
                "this state dir was written for; copying again from {}",
                name, PartitionName(f.target_topic, f.source.partition), target_end,
                progress.next_target_offset,
                at.source >= 0 ? "source offset " + std::to_string(at.source)
                               : std::string("the source's start"));
  if (at.source < 0) {
    if (auto st = self.store_.Forget(f.source); !st.ok()) return st;
    return std::int64_t{RD_KAFKA_OFFSET_BEGINNING};
  }
  PartitionProgress p = progress;
  p.next_source_offset = at.source;
  p.next_target_offset = at.target;
  p.updated_ms = WallClockMs();
  if (auto st = self.store_.TruncateFrom(f.source, at.source, p); !st.ok()) return st;
  return at.source;
}

Status CopyLoop::Impl::ReadProgress(rd_kafka_topic_partition_list_t* targets, bool* stable) {
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
  *stable = false;
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

Status CopyLoop::Impl::SettlePrepared(const std::vector<Flow>& added,
                                      const rd_kafka_topic_partition_list_t* targets,
                                      bool stable,
                                      std::vector<std::optional<PartitionProgress>>& stored) {
  std::vector<SourcePartition> prepared_partitions;
  std::vector<PartitionUpdate> open;
  std::vector<std::size_t> index;
  std::vector<TargetRecord> last_records;
  for (std::size_t i = 0; i < added.size(); ++i) {
    auto prepared = self.store_.Prepared(added[i].source);
    if (!prepared.ok()) return prepared.status();
    if (!prepared.value()) continue;
    prepared_partitions.push_back(added[i].source);
    PartitionUpdate& update = *prepared.value();
    const auto& tp = targets->elems[i];
    const std::int64_t on_target = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR ? tp.offset : -1;
    const std::int64_t known =
        std::max(on_target, stored[i] ? stored[i]->next_source_offset : std::int64_t{-1});
    // A transaction that copied nothing to the partition cannot have copied it twice.
    if (stable || update.runs.empty() || update.progress.next_source_offset <= known) continue;
    const OffsetRun& last = update.runs.back();
    last_records.push_back(
        {added[i].target_topic, added[i].source.partition, last.downstream + last.length - 1});
    open.push_back(std::move(update));
    index.push_back(i);
  }
  const auto outcomes = TxnOutcomes(config, last_records, kTimeout);
  for (std::size_t j = 0; j < open.size(); ++j) {
    const PartitionUpdate& update = open[j];
    const std::string name = PartitionName(update.partition.topic, update.partition.partition);
    const TargetRecord& r = last_records[j];
    switch (outcomes[j]) {
      case TxnOutcome::kCommitted:
        if (auto st = self.store_.Commit({update}); !st.ok()) {
          spdlog::error("{}: storing the commit the state dir prepared up to {}: {}", name,
                        update.progress.next_source_offset, st.message());
          break;
        }
        spdlog::warn("{}: the state dir prepared a commit up to {} and did not store it; its "
                     "last record (offset {} of {}[{}]) is committed on the target, so it is "
                     "stored now",
                     name, update.progress.next_source_offset, r.offset, r.topic, r.partition);
        stored[index[j]] = update.progress;
        break;
      case TxnOutcome::kAborted:
        spdlog::info("{}: the commit the state dir prepared up to {} aborted on the target; "
                     "dropped",
                     name, update.progress.next_source_offset);
        break;
      case TxnOutcome::kUnknown:
        spdlog::error("{}: cannot tell whether the commit the state dir prepared up to {} "
                      "committed (offset {} of {}[{}] is not readable on the target); resuming "
                      "from the older progress may copy records again",
                      name, update.progress.next_source_offset, r.offset, r.topic, r.partition);
        break;
    }
  }
  return self.store_.DropPrepared(prepared_partitions);
}

Settings CopyLoop::Impl::ProgressClientSettings(const std::string& isolation) const {
  return {{"client.id", "tern-replicator." + config.target.alias + ".progress"},
          {"group.id", self.progress_group()},
          {"enable.auto.commit", "false"},
          {"isolation.level", isolation}};
}

Status CopyLoop::Impl::RepairBehind(const std::vector<RebuildRequest>& behind) {
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

Status CopyLoop::Impl::UpdateAssignment() {
  auto [topics, version] = self.topics_.Current();
  auto [paused, paused_version] = self.paused_.Current();
  if (version == topics_version && paused_version == paused_version_seen) return Status::Ok();
  ResumeFetching();  // the assignment changes: nothing stays paused across it
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
  bool deferred = false;  // a flow to stop still has records queued or in flight
  for (auto it = flows.begin(); it != flows.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.in_flight > 0 || it->second.queued > 0 || !it->second.runs.empty()) {
      deferred = true;
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
  if (deferred) return Status::Ok();  // looked at again next time
  topics_version = version;
  paused_version_seen = paused_version;
  return Status::Ok();
}

Status CopyLoop::Impl::HandleOutOfRange(Flow& flow) {
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
  ResumeFetching();  // the partition is assigned again below
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
  flow.resumed_at = -1;  // a position of the old log
  return Status::Ok();
}

}  // namespace tern::replicator
