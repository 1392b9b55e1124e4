#include "replicator/map_rebuild.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "replicator/kafka_client.h"
#include "replicator/mm2_records.h"

namespace tern::replicator {
namespace {

constexpr int kTimeoutMs = 30000;

}  // namespace

std::vector<OffsetRun> RunsFromSyncs(const std::vector<std::pair<std::int64_t, std::int64_t>>& syncs,
                                     std::int64_t to, std::int64_t target_end) {
  std::vector<OffsetRun> runs;
  for (std::size_t i = 0; i < syncs.size(); ++i) {
    const auto [up, down] = syncs[i];
    const std::int64_t next_up = i + 1 < syncs.size() ? syncs[i + 1].first : to;
    const std::int64_t next_down = i + 1 < syncs.size() ? syncs[i + 1].second : target_end;
    const std::int64_t length = std::min(next_up - up, next_down - down);
    if (length <= 0) continue;
    if (!runs.empty() && (up < runs.back().upstream + runs.back().length ||
                          down < runs.back().downstream + runs.back().length)) {
      continue;  // inconsistent with the previous run; keep the map conservative
    }
    runs.push_back({up, down, length});
  }
  return runs;
}

ResumePoint ResumeOnShorterTarget(const std::vector<OffsetRun>& runs, std::int64_t floor,
                                  std::int64_t target_end) {
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (it->downstream >= target_end) continue;
    return {it->upstream + std::min(it->length, target_end - it->downstream), target_end};
  }
  return {floor, target_end};
}

Result<std::map<SourcePartition, std::vector<OffsetRun>>> RebuildRuns(
    const ReplicatorConfig& config, const std::vector<RebuildRequest>& requests) {
  std::map<SourcePartition, std::vector<OffsetRun>> out;
  if (requests.empty() || config.offset_syncs_location != OffsetSyncsLocation::kTarget) {
    return out;
  }
  std::map<SourcePartition, const RebuildRequest*> wanted;
  for (const auto& r : requests) wanted[r.source] = &r;

  const std::string topic = mm2::OffsetSyncsTopic(config.target.alias);
  auto consumer_or = NewClient(RD_KAFKA_CONSUMER, "target offset-syncs reader",
                               config.target.client,
                               {{"group.id", config.transactional_id + ".rebuild"},
                                {"enable.auto.commit", "false"},
                                {"enable.partition.eof", "true"},
                                {"isolation.level", "read_committed"}});
  if (!consumer_or.ok()) return consumer_or.status();
  KafkaHandle consumer = std::move(consumer_or).value();
  rd_kafka_poll_set_consumer(consumer.get());
  std::int64_t low = 0, high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), 0,
                                                             &low, &high, kTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(err, "watermarks of " + topic);

  // Syncs per partition in log order; an upstream offset going back starts over (the source
  // topic was re-created), and a later sync for the same upstream replaces an earlier one.
  std::map<SourcePartition, std::map<std::int64_t, std::int64_t>> found;
  std::map<SourcePartition, std::int64_t> last_upstream;
  if (high > low) {
    PartitionList assignment = NewPartitionList(1);
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), 0)->offset = low;
    if (auto e = rd_kafka_assign(consumer.get(), assignment.get()); e) {
      return KafkaStatus(e, "reading " + topic);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Unavailable("reading " + topic + " took too long");
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 500);
      if (m == nullptr) continue;
      const bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key != nullptr && m->payload != nullptr) {
        auto sync = mm2::DecodeOffsetSync(
            std::string_view(static_cast<const char*>(m->key), m->key_len),
            std::string_view(static_cast<const char*>(m->payload), m->len));
        if (sync.ok()) {
          SourcePartition p{sync.value().topic, sync.value().partition};
          if (wanted.contains(p)) {
            auto& syncs = found[p];
            auto last = last_upstream.find(p);
            if (last != last_upstream.end() && sync.value().upstream_offset < last->second) {
              syncs.clear();
            }
            last_upstream[p] = sync.value().upstream_offset;
            syncs[sync.value().upstream_offset] = sync.value().downstream_offset;
          }
        }
      }
      rd_kafka_message_destroy(m);
      if (eof) break;
    }
  }
  rd_kafka_consumer_close(consumer.get());

  for (const auto& [p, request] : wanted) {
    std::vector<std::pair<std::int64_t, std::int64_t>> syncs;
    for (const auto& [up, down] : found[p]) {
      if (up >= request->from && up < request->to) syncs.emplace_back(up, down);
    }
    out[p] = RunsFromSyncs(syncs, request->to, request->target_end);
    spdlog::info("{}: rebuilt {} offset-map runs for source offsets [{}, {}) from {}",
                 p.topic + "[" + std::to_string(p.partition) + "]", out[p].size(), request->from,
                 request->to, topic);
  }
  return out;
}

}  // namespace tern::replicator
