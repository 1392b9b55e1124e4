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

// Both RPCs: the topics among `candidates` (sorted) that match the request's required
// pattern get `apply`ed, logged and listed in the response.
template <typename Request, typename Response, typename Apply>
grpc::Status ChangeFlows(const char* verb, const Request& request,
                         const std::vector<std::string>& candidates, Apply apply,
                         Response* response) {
  NamePattern pattern;
  if (auto st = NamePattern::Compile("topic_pattern", request.topic_pattern(), true, &pattern);
      !st.ok()) {
    return st;
  }
  std::vector<std::string> matched;
  for (const auto& topic : candidates) {
    if (pattern.Matches(topic)) matched.push_back(topic);
  }
  apply(matched);
  spdlog::info("{} '{}': {}", verb, request.topic_pattern(), JoinNames(matched));
  for (auto& topic : matched) response->add_topics(std::move(topic));
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ReplicatorApi::PauseFlows(grpc::ServerContext* context,
                                       const v1::PauseFlowsRequest* request,
                                       v1::PauseFlowsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  std::vector<std::string> sources;
  for (const auto& topic : *engine_.topics().Current().first) sources.push_back(topic.source);
  std::sort(sources.begin(), sources.end());
  return ChangeFlows(
      "PauseFlows", *request, sources,
      [this](const std::vector<std::string>& t) { engine_.paused().Pause(t); }, response);
}

grpc::Status ReplicatorApi::ResumeFlows(grpc::ServerContext* context,
                                        const v1::ResumeFlowsRequest* request,
                                        v1::ResumeFlowsResponse* response) {
  if (auto st = Authorize(*context); !st.ok()) return st;
  const auto paused = engine_.paused().Current().first;  // a std::set: sorted
  return ChangeFlows(
      "ResumeFlows", *request, std::vector<std::string>(paused.begin(), paused.end()),
      [this](const std::vector<std::string>& t) { engine_.paused().Resume(t); }, response);
}

}  // namespace tern::replicator::api
