// ternctl pause PATTERN / ternctl resume PATTERN: stop and restart copying source topics.
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

template <typename Response>
int Print(const Response& response, const char* verb, const Io& io) {
  if (io.json()) {
    PrintJson(response, io.out);
    return 0;
  }
  if (response.topics().empty()) {
    io.out << "no topic matched; nothing " << verb << '\n';
    return 0;
  }
  for (const auto& t : response.topics()) io.out << verb << ' ' << t << '\n';
  return 0;
}

}  // namespace

Command AddPause(CLI::App& app) {
  auto pattern = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "pause", "Stop copying source topics matching a regex (their progress is kept)");
  sub->add_option("pattern", *pattern, "Regex over whole source topic names")->required();
  return {sub, [pattern](ApiClient& client, const Io& io) {
            grpc::ClientContext context;
            client.Prepare(context);
            api::PauseFlowsRequest request;
            request.set_topic_pattern(*pattern);
            api::PauseFlowsResponse response;
            grpc::Status rpc = client.stub().PauseFlows(&context, request, &response);
            if (!rpc.ok()) return io.Fail(client.Describe(rpc));
            return Print(response, "paused", io);
          }};
}

Command AddResume(CLI::App& app) {
  auto pattern = std::make_shared<std::string>();
  CLI::App* sub =
      app.add_subcommand("resume", "Copy paused source topics matching a regex again");
  sub->add_option("pattern", *pattern, "Regex over whole source topic names")->required();
  return {sub, [pattern](ApiClient& client, const Io& io) {
            grpc::ClientContext context;
            client.Prepare(context);
            api::ResumeFlowsRequest request;
            request.set_topic_pattern(*pattern);
            api::ResumeFlowsResponse response;
            grpc::Status rpc = client.stub().ResumeFlows(&context, request, &response);
            if (!rpc.ok()) return io.Fail(client.Describe(rpc));
            return Print(response, "resumed", io);
          }};
}

}  // namespace tern::ternctl
