// TxnOffsetCommit: commits a group's offsets inside a producer's transaction (the
// consume-transform-produce loop). The group's __consumer_offsets partition must be in the
// transaction (AddOffsetsToTxn) and the producer current (INVALID_PRODUCER_EPOCH,
// INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE otherwise). v3+ may name the member and
// generation, which are checked as OffsetCommit checks them. The offsets are written durably
// as a transactional batch and become visible when the transaction commits (dropped when it
// aborts); meanwhile OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for them.
// From v5 (transaction version 2, KIP-890) there is no AddOffsetsToTxn: the commit itself
// adds the group's partition to the transaction, durably before the answer.
#include <spdlog/spdlog.h>

#include <asio/use_awaitable.hpp>

#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/group/offsets_records.h"
#include "broker/handlers/commit_checks.h"
#include "broker/handlers/handlers.h"
#include "broker/txn/txn_coordinator.h"

namespace tern::broker {
namespace {

using Request = kafka::TxnOffsetCommitRequest;
using Response = kafka::TxnOffsetCommitResponse;

constexpr std::int16_t kFirstTopicIdVersion = 6;
// The OffsetCommit version whose member checks TxnOffsetCommit v3+ shares.
constexpr std::int16_t kMemberCheckVersion = 8;

constexpr std::int16_t kFirstImplicitAddVersion = 5;

// The error for every partition of the request, or NONE. From v5 the group's partition joins
// the transaction here; `state_log` then gets the log of the new transaction state.
kafka::ErrorCode GroupError(BrokerContext& broker, const Request& request, std::int16_t version,
                            std::shared_ptr<storage::PartitionLog>& state_log) {
  group::GroupCoordinator& groups = broker.groups();
  if (request.group_id.empty()) return kafka::ErrorCode::kInvalidGroupId;
  if (!groups.Available(request.group_id)) return kafka::ErrorCode::kCoordinatorNotAvailable;
  const std::int32_t partition = groups.offsets().PartitionFor(request.group_id);
  if (version >= kFirstImplicitAddVersion) {
    txn::ImplicitAdd added =
        broker.txns().AddPartitionForWrite(request.transactional_id, request.producer_id,
                                           request.producer_epoch, group::kOffsetsTopic, partition);
    if (added.error == kafka::ErrorCode::kProducerFenced) {
      return kafka::ErrorCode::kInvalidProducerEpoch;
    }
    if (added.error != kafka::ErrorCode::kNone) return added.error;
    state_log = std::move(added.state_log);
  }
  const kafka::ErrorCode txn_error =
      broker.txns().CheckWrite(request.transactional_id, request.producer_id,
                               request.producer_epoch, group::kOffsetsTopic, partition);
  if (txn_error != kafka::ErrorCode::kNone) return txn_error;
  if (request.generation_id_or_member_epoch >= 0) {
    return groups.ValidateOffsetCommit(request.group_id, request.generation_id_or_member_epoch,
                                       request.member_id, request.group_instance_id,
                                       kMemberCheckVersion, /*transactional=*/true);
  }
  return kafka::ErrorCode::kNone;
}

}  // namespace

asio::awaitable<Result<Reply>> HandleTxnOffsetCommit(RequestContext& ctx, kafka::Reader& body,
                                                     kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;
  group::GroupCoordinator& groups = broker.groups();
  std::shared_ptr<storage::PartitionLog> state_log;
  const kafka::ErrorCode group_error = GroupError(broker, request, version, state_log);
  const std::int64_t now = storage::SystemClockMs();

  Response response;
  std::vector<group::OffsetChange> changes;
  for (const auto& t : request.topics) {
    Response::TxnOffsetCommitResponseTopic& rt = response.topics.emplace_back();
    rt.name = t.name;
    rt.topic_id = t.topic_id;
    const Topic* topic = version >= kFirstTopicIdVersion ? broker.topics().FindById(t.topic_id)
                                                         : broker.topics().Find(t.name);
    for (const auto& p : t.partitions) {
      Response::TxnOffsetCommitResponsePartition& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      const kafka::ErrorCode error =
          group_error != kafka::ErrorCode::kNone
              ? group_error
              : CommitPartitionError(groups, topic, p, version >= kFirstTopicIdVersion);
      if (error == kafka::ErrorCode::kNone) {
        changes.push_back(
            group::OffsetChange{topic->name, p.partition_index, CommitValue(p, now)});
      }
      rp.error_code = kafka::Code(error);
    }
  }
  if (!changes.empty()) {
    const Status s = co_await groups.offsets().WriteTxn(request.group_id, request.producer_id,
                                                        request.producer_epoch,
                                                        std::move(changes));
    if (!s.ok()) {
      spdlog::warn("{}: transactional commit of group {} failed: {}", ctx.peer,
                   request.group_id, s.ToString());
      const std::int16_t code = s.code() == Status::Code::kInvalidArgument
                                    ? kafka::Code(kafka::ErrorCode::kInvalidProducerEpoch)
                                    : kafka::Code(group::WriteError(s));
      for (auto& rt : response.topics) {
        for (auto& rp : rt.partitions) {
          if (rp.error_code == 0) rp.error_code = code;
        }
      }
    }
  }
  if (state_log != nullptr && broker.config().fsync == FsyncPolicy::kAlways) {
    std::vector<std::shared_ptr<storage::PartitionLog>> to_sync{state_log};
    const Status durable =
        co_await broker.group_commit().WaitDurable(std::move(to_sync), asio::use_awaitable);
    if (!durable.ok()) {
      for (auto& rt : response.topics) {
        for (auto& rp : rt.partitions) {
          if (rp.error_code == 0) {
            rp.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
          }
        }
      }
    }
  }
  for (const auto& rt : response.topics) {
    for (const auto& rp : rt.partitions) {
      if (rp.error_code != 0) broker.metrics().ErrorReturned("TxnOffsetCommit", rp.error_code);
    }
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
