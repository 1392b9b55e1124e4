// ternctl groups [--group REGEX]: consumer groups whose offsets are synced to the target.
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

int Run(const std::string& pattern, ApiClient& client, const Io& io) {
  grpc::ClientContext context;
  client.Prepare(context);
  api::ListGroupsRequest request;
  request.set_group_pattern(pattern);
  api::ListGroupsResponse response;
  grpc::Status rpc = client.stub().ListGroups(&context, request, &response);
  if (!rpc.ok()) return io.Fail(client.Describe(rpc));
  if (io.json()) {
    PrintJson(response, io.out);
    return 0;
  }
  Table table({"GROUP", "TOPIC", "PARTITION", "SOURCE_OFFSET", "TARGET_TOPIC", "TARGET_OFFSET",
               "ON_TARGET", "LAST_SYNC", "LAST_ERROR"});
  for (const auto& g : response.groups()) {
    const std::string on_target = g.committed_on_target() ? "committed" : "not committed";
    if (g.offsets().empty()) {
      table.Add({g.group(), "-", "-", "-", "-", "-", on_target, Ago(g.last_sync_time()),
                 g.last_error().message()});
    }
    for (const auto& o : g.offsets()) {
      table.Add({g.group(), o.source_topic(), std::to_string(o.partition()),
                 Count(o.source_offset()), o.target_topic(), Count(o.target_offset()), on_target,
                 Ago(g.last_sync_time()), g.last_error().message()});
    }
  }
  table.Print(io.out);
  return 0;
}

}  // namespace

Command AddGroups(CLI::App& app) {
  auto pattern = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("groups", "Consumer groups and their synced offsets");
  sub->add_option("--group", *pattern, "Only groups matching this regex");
  return {sub, [pattern](ApiClient& client, const Io& io) { return Run(*pattern, client, io); }};
}

}  // namespace tern::ternctl
