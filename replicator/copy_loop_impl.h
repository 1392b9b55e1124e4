// The copy loop's insides, shared by its three source files:
//   copy_loop.cc    clients, the record path (consume → produce → delivery report), Run()
//   copy_start.cc   where flows start: committed progress, store repair, assignment changes,
//                   out-of-range positions
//   copy_commit.cc  commits (transactions or progress after delivery) and published status
// Private to replicator/: include copy_loop.h elsewhere.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "replicator/copy_loop.h"
#include "replicator/map_rebuild.h"
#include "replicator/mm2_records.h"

namespace tern::replicator {

// One source partition being copied.
struct CopyLoop::Flow {
  SourcePartition source;
  std::string target_topic;
  TopicHandle target;  // on the producer
  // The source offset after the last record taken from the consumer (copied or skipped);
  // -1 until known (a partition started from the beginning learns it from its first record).
  std::int64_t consumed = -1;
  // Progress last committed (store and target group).
  std::int64_t committed = -1;
  // Records taken from the consumer and not yet handed to the producer (in `pending`).
  std::int64_t queued = 0;
  // The consumer's position when fetching was last resumed: the seek that wakes the fetcher
  // leaves librdkafka without one until the next record, and transaction markers after the
  // last record taken must still be stepped over.
  std::int64_t resumed_at = -1;
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
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kTimeout{30000};
  // How long start-up waits for the progress group's offsets to become stable.
  static constexpr std::chrono::milliseconds kStableProgressWait{15000};
  // Takes ownership of `error`; Unavailable("<what>: <error>").
  static Status ErrorStatus(rd_kafka_error_t* error, const std::string& what);
  // Unavailable("opening topic <topic> on the producer: <librdkafka's last error>").
  static Status TopicHandleError(const std::string& topic);

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
  // Exactly-once: after a commit because copying caught up, no transaction begins before
  // this (transaction_start_delay_ms later): the target's coordinator is still writing the
  // last one's markers, and an AddPartitionsToTxn meanwhile gets CONCURRENT_TRANSACTIONS,
  // which librdkafka 2.0 retries only after 20 ms.
  Clock::time_point next_transaction_at;
  int StartDelayLeftMs() const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_transaction_at -
                                                                   Clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
  }
  Status delivery_error = Status::Ok();
  // What the consumer returned and the producer has not taken yet, in order: records (their
  // headers prepared at the first attempt) and consumer errors, which are handled in their
  // turn. The loop keeps the consumer's fetch queue drained into it, because librdkafka
  // (before 2.1) stops fetching for a whole second once that queue reaches
  // queued.max.messages.kbytes; when `pending` itself reaches its limit, fetching is paused
  // instead, and resuming wakes the fetcher at once.
  struct Pending {
    rd_kafka_message_t* message = nullptr;
    rd_kafka_headers_t* headers = nullptr;
    bool prepared = false;
    // Its flow, found when it was taken (counted in the flow's `queued` and in
    // `pending_bytes`; a flow is not removed while it has records queued); null for an error
    // or a record of a partition no longer copied.
    Flow* flow = nullptr;
  };
  std::deque<Pending> pending;
  std::int64_t pending_bytes = 0;
  const std::int64_t pending_limit;
  // The partitions paused because `pending` is full (empty when fetching).
  PartitionList fetch_paused;
  // The consumer's fetch queue (every partition's is forwarded to it), its limit
  // (queued.max.messages.kbytes, in bytes), and whether it has been near that limit since it
  // was last found empty: then fetching may be stalled.
  QueueHandle fetch_queue;
  std::int64_t fetch_queue_bytes = 0;
  bool fetch_queue_filled = false;
  // Records and bytes taken from the consumer: their mean size turns the queue's length
  // (records) into bytes.
  std::int64_t taken_records = 0;
  std::int64_t taken_bytes = 0;
  std::string offset_syncs_topic;
  TopicHandle offset_syncs;         // on `producer`
  TopicHandle source_offset_syncs;  // on `source_producer`

  explicit Impl(CopyLoop& loop)
      : self(loop),
        config(loop.config_),
        exactly_once(loop.config_.delivery == DeliveryMode::kExactlyOnce),
        pending_limit(std::max<std::int64_t>(loop.config_.max_buffered_bytes / 2, 1 << 20)),
        offset_syncs_topic(mm2::OffsetSyncsTopic(loop.config_.target.alias)) {}

  ~Impl();

  Flow* FindFlow(const char* topic, std::int32_t partition);
  // Every flow's source partition.
  PartitionList FlowPartitions() const;

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* dr, void* opaque);
  // Delivery reports of the offset-syncs producer on the source (offset_syncs.location:
  // source): a failure is counted and logged, never a restart.
  static void OnSourceSyncDelivery(rd_kafka_t*, const rd_kafka_message_t* dr, void* opaque);

  // Quota throttling reported by a broker (called again with 0 when it ends).
  static void OnTargetThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque);

  static void OnSourceThrottle(rd_kafka_t*, const char*, int32_t, int ms, void* opaque);

  void Delivered(const rd_kafka_message_t* dr, const rd_kafka_message_t* source);

  Status CreateClients();

  // Decides where each new flow starts: the target's committed progress wins (it commits
  // atomically with the data); the store is brought in line with it. When the target's answer
  // was not stable (below), a store that is ahead wins instead: it only ever holds progress
  // whose transaction committed.
  Status StartFlows(std::vector<Flow> added);

  // Reads the progress group's committed offsets into `targets`. Exactly-once reads them
  // stable (require_stable), which waits while a transaction holds pending offsets. Our own
  // transactions are resolved by init_transactions before this, so a wait that does not end is
  // the group coordinator holding a pending commit (seen after a target restart interrupted
  // EndTxn: the commit had succeeded, its offsets stayed pending; it clears only at the
  // transaction timeout, or not at all): then the last committed offsets are read without
  // waiting and `stable` is set false — they may be older than that commit.
  Status ReadProgress(rd_kafka_topic_partition_list_t* targets, bool* stable);

  Settings ProgressClientSettings(const std::string& isolation) const;

  // Settles the commits the store prepared for new flows and never stored: the process died
  // between a transaction's commit on the target and the store's, or the transaction
  // aborted. With a stable read the target's progress says which, and they are dropped.
  // Without one, the target's last committed offsets (`targets`) may predate that commit
  // too; then the transaction's last record on the target tells (TxnOutcomes): committed,
  // the prepared update is stored and becomes the flow's `stored` progress; aborted or
  // unknown (said loudly: copying may repeat records), it is dropped.
  Status SettlePrepared(const std::vector<Flow>& added,
                        const rd_kafka_topic_partition_list_t* targets, bool stable,
                        std::vector<std::optional<PartitionProgress>>& stored);

  // The end offset (high watermark) of each new flow's target partition, in `ends` by the
  // index of `added`; -1 for a partition neither the store (`stored`, by the same index) nor
  // the target group (`committed`, as ReadProgress left it) knows, which is not asked. Asks
  // again while a partition has no leader yet, up to kTimeout.
  Status TargetEnds(const std::vector<Flow>& added,
                    const std::vector<std::optional<PartitionProgress>>& stored,
                    const rd_kafka_topic_partition_list_t* committed,
                    std::vector<std::int64_t>& ends);

  // The target partition ends at `target_end`, below `progress.next_target_offset`: it lost
  // records the store says were copied (a target topic deleted and re-created, a wiped or
  // different cluster). Said loudly and counted; the store forgets the runs the target no
  // longer holds, and the source offset to copy from is returned (RD_KAFKA_OFFSET_BEGINNING
  // when nothing of the map is left).
  Result<std::int64_t> RewindToTargetEnd(Flow& f, const PartitionProgress& progress,
                                         std::int64_t target_end);

  // Brings the store up to the target's committed progress for partitions where it is
  // behind: runs from the offset-syncs topic, then the progress itself.
  Status RepairBehind(const std::vector<RebuildRequest>& behind);

  // Follows discovery: starts flows for new partitions. Flows of topics that disappeared at
  // the source stop once nothing of theirs is in flight.
  Status UpdateAssignment();

  // The source offset of `flow` was out of range: records were deleted by retention before
  // they were copied, or the partition was re-created or truncated. Either way it is said
  // loudly and counted, and copying continues from the source's first record.
  Status HandleOutOfRange(Flow& flow);

  // Appends what the consumer has ready to `pending` (the first poll waits up to
  // `wait_ms`), as long as `pending` is below its limit. When that empties a queue which
  // had filled up, it wakes the fetcher.
  Status TakeAvailable(int wait_ms);

  // Hands `pending` to the producer in order until it is empty or the producer's queue is
  // full. A record from the target is skipped (loop prevention); an error is handled.
  Status ProducePending();

  // Hands the first of `pending` on; false (and it stays) when the producer's queue is full.
  Status ProduceFront(bool& taken);

  // Removes the first of `pending` from the counts (not the message itself).
  rd_kafka_message_t* PopFront();

  // Pauses fetching while `pending` is at its limit; resumes once it is down to a quarter.
  void ControlFetching();
  void ResumeFetching();

  // librdkafka 2.0 stops fetching a partition whose fetch queue reached
  // queued.max.messages.kbytes and looks at it again only after a second, however soon the
  // queue is drained; a seek to where the partition stands makes it fetch at once. The seek
  // drops what is queued for the partition, so this is for partitions with nothing queued.
  void WakeFetcher(const rd_kafka_topic_partition_list_t* partitions);

  // Every flow has taken all the source held at its last fetch response (its high
  // watermark; a source transaction still open keeps this false) and nothing is waiting for
  // the producer. Costs no request; stops at the first flow that lags.
  bool CaughtUp();

  // What each flow's committed progress becomes now.
  std::int64_t CommitPosition(const Flow& f) const;

  Status ProduceSyncs(rd_kafka_t* rk, rd_kafka_topic_t* topic,
                      const std::vector<mm2::OffsetSync>& syncs);

  // Publishes each flow's progress and the source end librdkafka last saw (no request).
  void PublishStatus();

  // A read_committed consumer never returns transaction markers (nor aborted records), so
  // the last record's offset + 1 stops short of the source's end; the consumer's position
  // steps over them. Moves each flow's `consumed` up to it.
  void StepOverControlRecords();

  // Commits progress: exactly-once, as a transaction; at-least-once, after delivery.
  Status Commit();

  // Records the updates a transaction is about to commit in the store (synced; see
  // CheckpointStore::Prepare), but for partitions being reset.
  Status PrepareInStore(const std::vector<PartitionUpdate>& updates,
                        const std::vector<SourcePartition>& resets);

  void AbortIfNeeded();

  Status Run(const std::atomic<bool>& stop);

  Status ConsumerError(const rd_kafka_message_t* message);
};

}  // namespace tern::replicator
