// ternctl translate --group G | --topic T --partition P --offset O: where source offsets are
// on the target.
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

struct Options {
  std::string group;
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = -1;
};

int Run(const Options& options, ApiClient& client, const Io& io) {
  api::TranslateOffsetsRequest request;
  if (!options.group.empty()) {
    request.set_group(options.group);
  } else {
    auto* p = request.mutable_position();
    p->set_topic(options.topic);
    p->set_partition(options.partition);
    p->set_offset(options.offset);
  }
  grpc::ClientContext context;
  client.Prepare(context);
  api::TranslateOffsetsResponse response;
  grpc::Status rpc = client.stub().TranslateOffsets(&context, request, &response);
  if (!rpc.ok()) return io.Fail(client.Describe(rpc));
  if (io.json()) {
    PrintJson(response, io.out);
    return 0;
  }
  Table table({"SOURCE_TOPIC", "PARTITION", "SOURCE_OFFSET", "TARGET_TOPIC", "TARGET_OFFSET"});
  for (const auto& t : response.translations()) {
    table.Add({t.source_topic(), std::to_string(t.partition()), Count(t.source_offset()),
               t.target_topic(),
               t.target_offset() < 0 ? "not replicated yet" : std::to_string(t.target_offset())});
  }
  table.Print(io.out);
  return 0;
}

}  // namespace

Command AddTranslate(CLI::App& app) {
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "translate", "Target offsets of a source group's committed offsets, or of one position");
  auto* group = sub->add_option("--group", options->group, "A source consumer group");
  auto* topic = sub->add_option("--topic", options->topic, "Source topic of one position");
  auto* partition = sub->add_option("--partition", options->partition, "Its partition")
                        ->check(CLI::NonNegativeNumber);
  auto* offset = sub->add_option("--offset", options->offset, "Its source offset")
                     ->check(CLI::NonNegativeNumber);
  group->excludes(topic)->excludes(partition)->excludes(offset);
  topic->needs(partition)->needs(offset);
  partition->needs(topic);
  offset->needs(topic);
  sub->callback([sub, group, topic] {
    if (group->count() == 0 && topic->count() == 0) {
      throw CLI::RequiredError("--group or --topic/--partition/--offset");
    }
    (void)sub;
  });
  return {sub, [options](ApiClient& client, const Io& io) { return Run(*options, client, io); }};
}

}  // namespace tern::ternctl
