// ListGroups: the consumer groups group sync handles, as it last handled them.
#include "replicator/api/convert.h"
#include "replicator/api/pattern.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {

grpc::Status ReplicatorApi::ListGroups(grpc::ServerContext* context,
                                       const v1::ListGroupsRequest* request,
                                       v1::ListGroupsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  NamePattern groups;
  if (auto st = NamePattern::Compile("group_pattern", request->group_pattern(), false, &groups);
      !st.ok()) {
    return st;
  }
  for (const auto& group : engine_.stats().Groups()) {
    if (!groups.Matches(group.group)) continue;
    v1::GroupStatus* out = response->add_groups();
    out->set_group(group.group);
    for (const auto& offset : group.offsets) SetTranslation(offset, out->add_offsets());
    out->set_committed_on_target(group.committed_on_target);
    if (HasTime(group.last_sync_ms)) {
      SetTimestamp(group.last_sync_ms, out->mutable_last_sync_time());
    }
    if (HasError(group.last_error)) SetError(group.last_error, out->mutable_last_error());
  }
  return grpc::Status::OK;
}

}  // namespace tern::replicator::api
