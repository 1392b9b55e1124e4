// OffsetFetch: a group's committed offsets, for the partitions asked or (null topics, v2+) all
// of them; v8+ asks for several groups at once. A partition without a committed offset gets
// offset -1 and no error, as does every partition of a group that does not exist. v10 names
// topics by id (UNKNOWN_TOPIC_ID for an unknown one). Errors of the group itself (empty id:
// INVALID_GROUP_ID; its __consumer_offsets partition offline: COORDINATOR_NOT_AVAILABLE) go in
// the group's error, the top-level error (v2-7) or each partition's (v1).
// require_stable (v7+): a partition whose offset a transaction has committed but not yet ended
// gets UNSTABLE_OFFSET_COMMIT, which clients retry; without it the last stable offset is given.
// v9's member id and epoch belong to consumer-protocol (KIP-848) groups: UNKNOWN_MEMBER_ID or
// STALE_MEMBER_EPOCH when they are not current; classic groups ignore them, as Kafka's do.
#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/handlers.h"

namespace tern::broker {
namespace {

using Request = kafka::OffsetFetchRequest;
using Response = kafka::OffsetFetchResponse;

constexpr std::int16_t kFirstTopLevelErrorVersion = 2;
constexpr std::int16_t kFirstMultiGroupVersion = 8;
constexpr std::int16_t kFirstTopicIdVersion = 10;
constexpr std::int64_t kNoOffset = -1;

Response::OffsetFetchResponsePartitions Answer(const group::OffsetStore& offsets,
                                               const std::string& group,
                                               const std::string& topic,
                                               std::int32_t partition, bool require_stable) {
  Response::OffsetFetchResponsePartitions p;
  p.partition_index = partition;
  p.committed_offset = kNoOffset;
  p.committed_leader_epoch = -1;
  p.metadata = "";
  if (require_stable && offsets.HasPendingTxnOffset(group, topic, partition)) {
    p.error_code = kafka::Code(kafka::ErrorCode::kUnstableOffsetCommit);
    return p;
  }
  if (const group::OffsetCommitValue* v = offsets.Find(group, topic, partition)) {
    p.committed_offset = v->offset;
    p.committed_leader_epoch = v->leader_epoch;
    p.metadata = v->metadata;
  }
  return p;
}

Response::OffsetFetchResponseGroup FetchGroup(BrokerContext& broker,
                                              const Request::OffsetFetchRequestGroup& want,
                                              std::int16_t version, bool require_stable) {
  group::GroupCoordinator& groups = broker.groups();
  const Topics& topics = broker.topics();
  const bool by_id = version >= kFirstTopicIdVersion;
  Response::OffsetFetchResponseGroup out;
  out.group_id = want.group_id;
  if (want.group_id.empty()) {
    out.error_code = kafka::Code(kafka::ErrorCode::kInvalidGroupId);
    return out;
  }
  if (!groups.Available(want.group_id)) {
    out.error_code = kafka::Code(kafka::ErrorCode::kCoordinatorNotAvailable);
    return out;
  }
  // A consumer-protocol member names itself and its epoch (v9+): it must be current.
  if (const group::ConsumerGroup* g = groups.consumers().Find(want.group_id)) {
    const kafka::ErrorCode e = groups.consumers().ValidateFetch(*g, want.member_id,
                                                                want.member_epoch);
    if (e != kafka::ErrorCode::kNone) {
      out.error_code = kafka::Code(e);
      return out;
    }
  }
  const group::OffsetStore& offsets = groups.offsets();

  if (!want.topics.has_value()) {  // every committed offset of the group
    const group::GroupOffsets* committed = offsets.Find(want.group_id);
    if (committed == nullptr) return out;
    for (const auto& [name, partitions] : *committed) {
      Response::OffsetFetchResponseTopics t;
      t.name = name;
      if (by_id) {
        // Offsets of a topic that no longer exists have no id to be named by.
        const Topic* topic = topics.Find(name);
        if (topic == nullptr) continue;
        t.topic_id = topic->id;
        t.name.clear();
      }
      for (const auto& [partition, value] : partitions) {
        t.partitions.push_back(Answer(offsets, want.group_id, name, partition, require_stable));
      }
      out.topics.push_back(std::move(t));
    }
    return out;
  }

  for (const auto& want_topic : *want.topics) {
    Response::OffsetFetchResponseTopics t;
    t.name = want_topic.name;
    t.topic_id = want_topic.topic_id;
    const Topic* topic = by_id ? topics.FindById(want_topic.topic_id) : nullptr;
    for (std::int32_t partition : want_topic.partition_indexes) {
      if (by_id && topic == nullptr) {
        Response::OffsetFetchResponsePartitions p;
        p.partition_index = partition;
        p.committed_offset = kNoOffset;
        p.error_code = kafka::Code(kafka::ErrorCode::kUnknownTopicId);
        t.partitions.push_back(std::move(p));
        continue;
      }
      t.partitions.push_back(
          Answer(offsets, want.group_id, by_id ? topic->name : want_topic.name, partition,
                 require_stable));
    }
    out.topics.push_back(std::move(t));
  }
  return out;
}

// The request of v1-7, one group, in the shape of v8's.
Request::OffsetFetchRequestGroup SingleGroup(const Request& request) {
  Request::OffsetFetchRequestGroup g;
  g.group_id = request.group_id;
  if (!request.topics.has_value()) {
    g.topics.reset();
    return g;
  }
  for (const auto& t : *request.topics) {
    Request::OffsetFetchRequestTopics topic;
    topic.name = t.name;
    topic.partition_indexes = t.partition_indexes;
    g.topics->push_back(std::move(topic));
  }
  return g;
}

// v1-7's answer from v8's. v1 has no top-level error: a group error goes to every partition
// asked for.
void SetSingleGroupAnswer(const Request& request, Response::OffsetFetchResponseGroup group,
                          std::int16_t version, Response& response) {
  if (version < kFirstTopLevelErrorVersion && group.error_code != 0 && request.topics) {
    for (const auto& t : *request.topics) {
      Response::OffsetFetchResponseTopic topic;
      topic.name = t.name;
      for (std::int32_t partition : t.partition_indexes) {
        Response::OffsetFetchResponsePartition p;
        p.partition_index = partition;
        p.committed_offset = kNoOffset;
        p.error_code = group.error_code;
        topic.partitions.push_back(std::move(p));
      }
      response.topics.push_back(std::move(topic));
    }
    return;
  }
  response.error_code = group.error_code;
  for (auto& t : group.topics) {
    Response::OffsetFetchResponseTopic topic;
    topic.name = std::move(t.name);
    for (auto& p : t.partitions) {
      Response::OffsetFetchResponsePartition partition;
      partition.partition_index = p.partition_index;
      partition.committed_offset = p.committed_offset;
      partition.committed_leader_epoch = p.committed_leader_epoch;
      partition.metadata = std::move(p.metadata);
      partition.error_code = p.error_code;
      topic.partitions.push_back(std::move(partition));
    }
    response.topics.push_back(std::move(topic));
  }
}

void CountErrors(BrokerContext& broker, const Response::OffsetFetchResponseGroup& g) {
  if (g.error_code != 0) broker.metrics().ErrorReturned("OffsetFetch", g.error_code);
  for (const auto& t : g.topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) broker.metrics().ErrorReturned("OffsetFetch", p.error_code);
    }
  }
}

}  // namespace

asio::awaitable<Result<Reply>> HandleOffsetFetch(RequestContext& ctx, kafka::Reader& body,
                                                 kafka::Writer& out) {
  const auto version = ctx.header.api_version;
  Request request;
  if (!request.Decode(body, version)) co_return body.status();
  BrokerContext& broker = ctx.broker;

  Response response;
  if (version >= kFirstMultiGroupVersion) {
    for (const auto& g : request.groups) {
      response.groups.push_back(FetchGroup(broker, g, version, request.require_stable));
      CountErrors(broker, response.groups.back());
    }
  } else {
    Response::OffsetFetchResponseGroup g = FetchGroup(broker, SingleGroup(request), version, request.require_stable);
    CountErrors(broker, g);
    SetSingleGroupAnswer(request, std::move(g), version, response);
  }
  response.Encode(out, version);
  co_return Reply::kSend;
}

}  // namespace tern::broker
