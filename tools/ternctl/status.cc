// ternctl status: the replicator, its two clusters, totals, and one line per topic flow.
#include <fmt/format.h>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

std::string ClusterLine(const char* side, const api::ClusterStatus& c) {
  std::string line = fmt::format("{}  {}  {}  {}  last contact {}", side, c.alias(),
                                 c.bootstrap_servers(),
                                 c.reachable() ? "reachable" : "UNREACHABLE",
                                 Ago(c.last_contact_time()));
  if (!c.reachable() && !c.last_error().message().empty()) {
    line += "  (" + c.last_error().message() + ")";
  }
  return line;
}

int Run(ApiClient& client, const Io& io) {
  grpc::ClientContext context;
  client.Prepare(context);
  api::GetStatusResponse status;
  grpc::Status rpc = client.stub().GetStatus(&context, api::GetStatusRequest(), &status);
  if (!rpc.ok()) return io.Fail(client.Describe(rpc));
  if (io.json()) {
    PrintJson(status, io.out);
    return 0;
  }
  const auto& t = status.totals();
  io.out << fmt::format(
      "tern-replicator {}  {}  {}  started {}\n", status.version(),
      EnumLabel(api::ReplicatorState_Name(status.state()), "REPLICATOR_STATE_"),
      EnumLabel(api::DeliveryMode_Name(status.delivery()), "DELIVERY_MODE_"),
      Time(status.start_time()));
  io.out << ClusterLine("source", status.source()) << '\n';
  io.out << ClusterLine("target", status.target()) << '\n';
  io.out << fmt::format(
      "replicated {} records ({} bytes), lag {} records, {} commits (last {}), {} restarts, "
      "{} records lost\n",
      t.records_replicated(), t.bytes_replicated(), Count(t.lag_records()), t.commits(),
      Ago(t.last_commit_time()), t.copy_restarts(), t.records_lost());
  if (!status.last_error().message().empty()) {
    io.out << "last error (" << Ago(status.last_error().time())
           << "): " << status.last_error().message() << '\n';
  }
  io.out << '\n';
  Table table({"TOPIC", "TARGET", "PARTITIONS", "STATE", "LAG", "LAG_SECONDS"});
  for (const auto& f : status.flows()) {
    table.Add({f.source_topic(), f.target_topic(), std::to_string(f.partitions()),
               EnumLabel(api::FlowState_Name(f.state()), "FLOW_STATE_"),
               Count(f.lag_records()), Seconds(f.lag_seconds())});
  }
  table.Print(io.out);
  return 0;
}

}  // namespace

Command AddStatus(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("status", "The replicator, its clusters and topic flows");
  return {sub, Run};
}

}  // namespace tern::ternctl
