#include "replicator/txn_outcome.h"

#include <spdlog/spdlog.h>

#include <map>
#include <utility>

#include "replicator/kafka_client.h"

namespace tern::replicator {

std::vector<TxnOutcome> TxnOutcomes(const ReplicatorConfig& config,
                                    const std::vector<TargetRecord>& records,
                                    std::chrono::milliseconds wait) {
  std::vector<TxnOutcome> out(records.size(), TxnOutcome::kUnknown);
  if (records.empty()) return out;
  auto consumer_or = NewClient(RD_KAFKA_CONSUMER, "target transaction check", config.target.client,
                               {{"group.id", config.transactional_id + ".check"},
                                {"enable.auto.commit", "false"},
                                {"enable.partition.eof", "true"},
                                {"auto.offset.reset", "error"},
                                {"isolation.level", "read_committed"}});
  if (!consumer_or.ok()) {
    spdlog::warn("checking transactions on the target: {}", consumer_or.status().message());
    return out;
  }
  KafkaHandle consumer = std::move(consumer_or).value();
  rd_kafka_poll_set_consumer(consumer.get());
  std::map<std::pair<std::string, std::int32_t>, std::size_t> index;
  PartitionList assignment = NewPartitionList(static_cast<int>(records.size()));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    index[{r.topic, r.partition}] = i;
    rd_kafka_topic_partition_list_add(assignment.get(), r.topic.c_str(), r.partition)->offset =
        r.offset;
  }
  if (auto e = rd_kafka_assign(consumer.get(), assignment.get()); e) {
    spdlog::warn("checking transactions on the target: {}", rd_kafka_err2str(e));
    rd_kafka_consumer_close(consumer.get());
    return out;
  }
  std::size_t left = records.size();
  std::vector<bool> decided(records.size(), false);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (left > 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (m == nullptr) continue;
    auto it = m->rkt != nullptr ? index.find({rd_kafka_topic_name(m->rkt), m->partition})
                                : index.end();
    const bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    if (it != index.end() && !decided[it->second]) {
      const std::size_t i = it->second;
      const std::int64_t want = records[i].offset;
      // A record at the offset asked for is visible, so committed; a record or the end of
      // what read_committed may read past it means it was skipped as aborted. The end at or
      // below it (an open transaction before it) decides nothing yet. An error (the offset
      // is out of range) decides that nothing can be told.
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset == want) {
        out[i] = TxnOutcome::kCommitted;
        decided[i] = true;
      } else if ((m->err == RD_KAFKA_RESP_ERR_NO_ERROR || eof) && m->offset > want) {
        out[i] = TxnOutcome::kAborted;
        decided[i] = true;
      } else if (!eof && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("checking the transaction at offset {} of {}[{}] on the target: {}", want,
                     records[i].topic, records[i].partition, rd_kafka_message_errstr(m));
        decided[i] = true;
      }
      if (decided[i]) --left;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && !eof) {
      spdlog::warn("checking transactions on the target: {}", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

}  // namespace tern::replicator
