// ternctl watch: a live view of replication from the WatchProgress stream. On a terminal it
// redraws a screen with a progress bar and an ETA per partition (the initial sync); piped, it
// prints one line per update; with --output json, one JSON object per update.
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>

#include "tools/ternctl/commands.h"
#include "tools/ternctl/output.h"

namespace tern::ternctl {
namespace {

using google::protobuf::util::TimeUtil;

struct Options {
  std::string topic;
  std::int32_t interval_ms = 1000;
  std::int64_t count = 0;  // 0 = until interrupted
  std::int32_t limit = 20;
};

// Records per second, smoothed, from successive (time, position) samples.
class Rate {
 public:
  void Add(std::int64_t time_ms, std::int64_t position) {
    if (last_ms_ > 0 && time_ms > last_ms_ && position >= last_position_) {
      const double now = static_cast<double>(position - last_position_) * 1000.0 /
                         static_cast<double>(time_ms - last_ms_);
      rate_ = seen_ ? 0.7 * rate_ + 0.3 * now : now;
      seen_ = true;
    }
    last_ms_ = time_ms;
    last_position_ = position;
  }
  double value() const { return seen_ ? rate_ : 0; }

 private:
  std::int64_t last_ms_ = 0;
  std::int64_t last_position_ = 0;
  double rate_ = 0;
  bool seen_ = false;
};

class View {
 public:
  View(const Options& options, const Io& io) : options_(options), io_(io) {}

  void Show(const api::WatchProgressResponse& update) {
    const std::int64_t now = TimeUtil::TimestampToMilliseconds(update.time());
    total_.Add(now, update.totals().records_replicated());
    for (const auto& p : update.partitions()) {
      if (p.replicated_offset() >= 0) {
        partition_[{p.source_topic(), p.partition()}].Add(now, p.replicated_offset());
      }
    }
    if (io_.json()) {
      PrintJson(update, io_.out);
    } else if (tty_) {
      Screen(update);
    } else {
      io_.out << Summary(update) << '\n';
    }
    io_.out.flush();
  }

 private:
  std::string Summary(const api::WatchProgressResponse& u) const {
    const auto& t = u.totals();
    return fmt::format("{}  {}  replicated {} records ({:.0f}/s)  lag {} records  ETA {}",
                       Time(u.time()),
                       EnumLabel(api::ReplicatorState_Name(u.state()), "REPLICATOR_STATE_"),
                       t.records_replicated(), total_.value(), Count(t.lag_records()),
                       Eta(t.lag_records(), total_.value()));
  }

  void Screen(const api::WatchProgressResponse& u) {
    std::vector<const api::PartitionProgress*> shown;
    for (const auto& p : u.partitions()) shown.push_back(&p);
    std::stable_sort(shown.begin(), shown.end(), [](const auto* a, const auto* b) {
      return a->lag_records() > b->lag_records();
    });
    const std::size_t hidden =
        shown.size() > static_cast<std::size_t>(options_.limit) ? shown.size() - options_.limit
                                                                : 0;
    shown.resize(shown.size() - hidden);
    std::string screen = "\033[H\033[2J";
    screen += Summary(u) + "\n\n";
    Table table({"TOPIC", "PARTITION", "PROGRESS", "REPLICATED", "SOURCE_END", "LAG", "RATE/S",
                 "ETA", "STATE"});
    for (const auto* p : shown) {
      auto it = partition_.find({p->source_topic(), p->partition()});
      const double rate = it == partition_.end() ? 0 : it->second.value();
      table.Add({p->source_topic(), std::to_string(p->partition()),
                 ProgressBar(p->replicated_offset(), p->source_end_offset(), 20),
                 Count(p->replicated_offset()), Count(p->source_end_offset()),
                 Count(p->lag_records()), fmt::format("{:.0f}", rate),
                 Eta(p->lag_records(), rate),
                 EnumLabel(api::FlowState_Name(p->state()), "FLOW_STATE_")});
    }
    std::ostringstream body;
    table.Print(body);
    screen += body.str();
    if (hidden > 0) screen += fmt::format("... and {} more partitions with less lag\n", hidden);
    screen += "\nCtrl-C to stop\n";
    io_.out << screen;
  }

  const Options& options_;
  const Io& io_;
  const bool tty_ = isatty(STDOUT_FILENO) == 1;
  Rate total_;
  std::map<std::pair<std::string, std::int32_t>, Rate> partition_;
};

int Run(const Options& options, ApiClient& client, const Io& io) {
  grpc::ClientContext context;
  client.Prepare(context, /*streaming=*/true);
  api::WatchProgressRequest request;
  request.set_interval_ms(options.interval_ms);
  request.set_topic_pattern(options.topic);
  auto reader = client.stub().WatchProgress(&context, request);
  View view(options, io);
  api::WatchProgressResponse update;
  std::int64_t seen = 0;
  while (reader->Read(&update)) {
    view.Show(update);
    if (options.count > 0 && ++seen >= options.count) {
      context.TryCancel();
      reader->Finish();
      return 0;
    }
  }
  grpc::Status rpc = reader->Finish();
  if (!rpc.ok()) return io.Fail(client.Describe(rpc));
  return io.Fail("the replicator ended the progress stream (it is shutting down)");
}

}  // namespace

Command AddWatch(CLI::App& app) {
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("watch", "Live replication progress, lag and ETA");
  sub->add_option("--topic", options->topic, "Only source topics matching this regex");
  sub->add_option("--interval-ms", options->interval_ms, "Milliseconds between updates")
      ->check(CLI::Range(100, 60000));
  sub->add_option("--count", options->count, "Stop after this many updates (0: never)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--limit", options->limit, "Partitions shown, most lag first")
      ->check(CLI::Range(1, 10000));
  return {sub, [options](ApiClient& client, const Io& io) { return Run(*options, client, io); }};
}

}  // namespace tern::ternctl
