// PauseFlows and ResumeFlows: stop and restart copying the topics whose source name matches a
// pattern. The copy loop applies the change at its next commit (PausedTopics).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "replicator/api/pattern.h"
#include "replicator/api/service.h"

namespace tern::replicator::api {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

grpc::Status ReplicatorApi::PauseFlows(grpc::ServerContext* context,
                                       const v1::PauseFlowsRequest* request,
                                       v1::PauseFlowsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  NamePattern pattern;
  if (auto st = NamePattern::Compile("topic_pattern", request->topic_pattern(), true, &pattern);
      !st.ok()) {
    return st;
  }
  std::vector<std::string> matched;
  for (const auto& topic : *engine_.topics().Current().first) {
    if (pattern.Matches(topic.source)) matched.push_back(topic.source);
  }
  std::sort(matched.begin(), matched.end());
  engine_.paused().Pause(matched);
  spdlog::info("PauseFlows '{}': paused {}", request->topic_pattern(), JoinNames(matched));
  for (auto& topic : matched) response->add_topics(std::move(topic));
  return grpc::Status::OK;
}

grpc::Status ReplicatorApi::ResumeFlows(grpc::ServerContext* context,
                                        const v1::ResumeFlowsRequest* request,
                                        v1::ResumeFlowsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  NamePattern pattern;
  if (auto st = NamePattern::Compile("topic_pattern", request->topic_pattern(), true, &pattern);
      !st.ok()) {
    return st;
  }
  std::vector<std::string> matched;
  for (const auto& topic : engine_.paused().Current().first) {  // a std::set: sorted
    if (pattern.Matches(topic)) matched.push_back(topic);
  }
  engine_.paused().Resume(matched);
  spdlog::info("ResumeFlows '{}': resumed {}", request->topic_pattern(), JoinNames(matched));
  for (auto& topic : matched) response->add_topics(std::move(topic));
  return grpc::Status::OK;
}

}  // namespace tern::replicator::api
