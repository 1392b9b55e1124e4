// ternctl pause PATTERN / ternctl resume PATTERN: stop and restart copying source topics.
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

template <typename Request, typename Response>
using FlowsRpc = grpc::Status (api::ReplicatorService::Stub::*)(grpc::ClientContext*,
                                                                const Request&, Response*);

// pause and resume differ only in their RPC and words.
template <typename Request, typename Response>
Command AddFlowsCommand(CLI::App& app, const char* name, const char* help, const char* verb,
                        FlowsRpc<Request, Response> rpc) {
  auto pattern = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("pattern", *pattern, "Regex over whole source topic names")->required();
  return {sub, [pattern, verb, rpc](ApiClient& client, const Io& io) {
            grpc::ClientContext context;
            client.Prepare(context);
            Request request;
            request.set_topic_pattern(*pattern);
            Response response;
            grpc::Status status = (client.stub().*rpc)(&context, request, &response);
            if (!status.ok()) return io.Fail(client.Describe(status));
            if (io.json()) {
              PrintJson(response, io.out);
            } else if (response.topics().empty()) {
              io.out << "no topic matched; nothing " << verb << '\n';
            } else {
              for (const auto& t : response.topics()) io.out << verb << ' ' << t << '\n';
            }
            return 0;
          }};
}

}  // namespace

Command AddPause(CLI::App& app) {
  return AddFlowsCommand(app, "pause",
                         "Stop copying source topics matching a regex (their progress is kept)",
                         "paused", &api::ReplicatorService::Stub::PauseFlows);
}

Command AddResume(CLI::App& app) {
  return AddFlowsCommand(app, "resume", "Copy paused source topics matching a regex again",
                         "resumed", &api::ReplicatorService::Stub::ResumeFlows);
}

}  // namespace tern::ternctl
