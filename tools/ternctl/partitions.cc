// ternctl partitions [--topic REGEX] [--sort topic|lag|lag-seconds]: progress per partition.
#include <algorithm>
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

struct Options {
  std::string topic;
  std::string sort = "topic";
};

void Sort(const std::string& by, google::protobuf::RepeatedPtrField<api::PartitionProgress>& ps) {
  auto key = [](const api::PartitionProgress& p) {
    return std::make_pair(p.source_topic(), p.partition());
  };
  std::stable_sort(ps.begin(), ps.end(), [&](const auto& a, const auto& b) {
    if (by == "lag" && a.lag_records() != b.lag_records()) {
      return a.lag_records() > b.lag_records();
    }
    if (by == "lag-seconds" && a.lag_seconds() != b.lag_seconds()) {
      return a.lag_seconds() > b.lag_seconds();
    }
    return key(a) < key(b);
  });
}

int Run(const Options& options, ApiClient& client, const Io& io) {
  grpc::ClientContext context;
  client.Prepare(context);
  api::ListPartitionsRequest request;
  request.set_topic_pattern(options.topic);
  api::ListPartitionsResponse response;
  grpc::Status rpc = client.stub().ListPartitions(&context, request, &response);
  if (!rpc.ok()) return io.Fail(client.Describe(rpc));
  Sort(options.sort, *response.mutable_partitions());
  if (io.json()) {
    PrintJson(response, io.out);
    return 0;
  }
  Table table({"TOPIC", "PARTITION", "TARGET", "SOURCE_END", "REPLICATED", "LAG", "LAG_SECONDS",
               "STATE", "LAST_ERROR"});
  for (const auto& p : response.partitions()) {
    table.Add({p.source_topic(), std::to_string(p.partition()), p.target_topic(),
               Count(p.source_end_offset()), Count(p.replicated_offset()), Count(p.lag_records()),
               Seconds(p.lag_seconds()), EnumLabel(api::FlowState_Name(p.state()), "FLOW_STATE_"),
               p.last_error().message()});
  }
  table.Print(io.out);
  return 0;
}

}  // namespace

Command AddPartitions(CLI::App& app) {
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("partitions", "Progress and lag per topic-partition");
  sub->add_option("--topic", options->topic, "Only source topics matching this regex");
  sub->add_option("--sort", options->sort, "Order: topic, lag or lag-seconds (largest first)")
      ->check(CLI::IsMember({"topic", "lag", "lag-seconds"}));
  return {sub, [options](ApiClient& client, const Io& io) { return Run(*options, client, io); }};
}

}  // namespace tern::ternctl
