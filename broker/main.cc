// tern-broker: parses its flags, prepares the data directory, and serves the Kafka protocol on
// its listener until SIGINT or SIGTERM.
#include <spdlog/spdlog.h>

#include <asio/io_context.hpp>
#include <csignal>
#include <asio/signal_set.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <system_error>

#include "broker/broker_context.h"
#include "broker/group/group_coordinator.h"
#include "broker/net/server.h"
#include "broker/prometheus_metrics.h"
#include "broker/retention.h"
#include "broker/txn/producer_ids.h"
#include "broker/txn/txn_coordinator.h"
#include "config/broker_config.h"
#include "config/command_line.h"
#include "config/program_flags.h"
#include "tern/version.h"

namespace {

constexpr const char* kProgram = "tern-broker";
// Partitions that get their own metric series; the totals cover the rest.
constexpr std::size_t kMaxPartitionSeries = 1000;

int Fail(const std::string& what) {
  std::cerr << kProgram << ": error: " << what << '\n';
  return 1;
}

// A cluster id as Kafka writes them: 16 random bytes in URL-safe base64 without padding.
std::string NewClusterId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device random;
  std::string bits;
  for (int i = 0; i < 16; ++i) bits.push_back(static_cast<char>(random() & 0xff));
  std::string out;
  for (std::size_t i = 0; i < bits.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint8_t>(bits[i]) << 16;
    if (i + 1 < bits.size()) v |= static_cast<std::uint8_t>(bits[i + 1]) << 8;
    if (i + 2 < bits.size()) v |= static_cast<std::uint8_t>(bits[i + 2]);
    const std::size_t chars = std::min<std::size_t>(4, (bits.size() - i) * 4 / 3 + 1);
    for (std::size_t c = 0; c < chars; ++c) out.push_back(kAlphabet[(v >> (18 - 6 * c)) & 0x3f]);
  }
  return out;
}

// The cluster id lives in <data-dir>/cluster_id, made on first start.
tern::Result<std::string> LoadOrCreateClusterId(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "cluster_id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && !id.empty()) return id;
  id = NewClusterId();
  const auto tmp = data_dir / "cluster_id.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << '\n';
    if (!out) return tern::Status::IoError("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return tern::Status::IoError("cannot write " + path.string() + ": " + ec.message());
  return id;
}

// The configuration file (if any) overlaid with the command-line flags.
tern::Result<tern::BrokerConfig> EffectiveConfig(const tern::BrokerFlags& flags) {
  tern::BrokerConfig config;
  if (!flags.config_file.empty()) {
    auto loaded = tern::LoadBrokerConfig(flags.config_file);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded).value();
  }
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  config.listener = flags.listen;
  if (flags.advertised_listener) config.advertised_listener = flags.advertised_listener;
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closed its socket must cost one connection, never the process.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT and SIGTERM are caught from here on: one that arrives during start-up (log recovery
  // may take a while) is held until the broker runs, which then shuts down cleanly at once.
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  CLI::App app;
  tern::SetProgramIdentity(app, kProgram);
  tern::BrokerFlags flags;
  tern::DefineBrokerFlags(app, flags);
  if (auto code = tern::ParseCommandLine(app, argc, argv, std::cout, std::cerr)) return *code;
  auto loaded = EffectiveConfig(flags);
  if (!loaded.ok()) return Fail(loaded.status().message());
  const tern::BrokerConfig config = std::move(loaded).value();

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Fail("cannot create data directory '" + config.data_dir + "': " + ec.message());
  auto cluster_id = LoadOrCreateClusterId(config.data_dir);
  if (!cluster_id.ok()) return Fail(cluster_id.status().message());

  auto producer_ids = tern::broker::txn::ProducerIdAllocator::Open(config.data_dir);
  if (!producer_ids.ok()) return Fail(producer_ids.status().ToString());
  tern::broker::Topics topics(config.data_dir, config.log);
  if (auto s = topics.Load(); !s.ok()) return Fail(s.ToString());

  std::unique_ptr<tern::broker::BrokerMetrics> metrics =
      std::make_unique<tern::broker::NoMetrics>();
  if (config.metrics_listen) {
    auto started = tern::broker::StartPrometheusMetrics(*config.metrics_listen, topics,
                                                        kMaxPartitionSeries);
    if (!started.ok()) return Fail(started.status().message());
    metrics = std::move(started).value();
    spdlog::info("metrics on http://{}/metrics", config.metrics_listen->ToString());
  }

  tern::broker::GroupCommit::Options commit_options;
  commit_options.busy_round_interval = std::chrono::microseconds(config.group_commit_interval_us);
  commit_options.busy_round_bytes = config.group_commit_busy_bytes;
  tern::broker::GroupCommit group_commit(io.get_executor(), commit_options);
  tern::broker::Retention retention(topics,
                                    std::chrono::milliseconds(config.retention_check_interval_ms),
                                    config.producer_id_expiration_ms);
  tern::broker::BrokerContext broker(config, cluster_id.value(),
                                     config.advertised_listener.value_or(*config.listener),
                                     topics, group_commit, *producer_ids.value(), *metrics);
  auto groups = tern::broker::group::GroupCoordinator::Open(config, topics, group_commit,
                                                            broker.notifier(), io.get_executor());
  if (!groups.ok()) return Fail(groups.status().ToString());
  broker.set_groups(*groups.value());
  tern::broker::txn::TxnCoordinatorConfig txn_config;
  txn_config.partitions = config.transactions.topic_partitions;
  txn_config.max_timeout_ms = config.transactions.max_timeout_ms;
  txn_config.abort_check_interval_ms = config.transactions.abort_check_interval_ms;
  txn_config.id_expiration_ms = config.transactions.id_expiration_ms;
  txn_config.wait_for_fsync = config.fsync == tern::FsyncPolicy::kAlways;
  auto txns = tern::broker::txn::TxnCoordinator::Open(txn_config, topics, group_commit,
                                                      *producer_ids.value(), broker.notifier(),
                                                      *metrics, io.get_executor());
  if (!txns.ok()) return Fail(txns.status().ToString());
  broker.set_txns(*txns.value());
  txns.value()->set_offsets_hook(
      [&offsets = groups.value()->offsets()](std::int32_t partition, std::int64_t producer_id,
                                             bool committed) {
        offsets.CompleteTxn(partition, producer_id, committed);
      });
  groups.value()->Start();
  txns.value()->Start();
  tern::broker::ConnectionLimits limits;
  limits.max_request_bytes = config.max_request_bytes;
  limits.max_in_flight = static_cast<std::size_t>(config.max_in_flight_per_connection);
  tern::broker::Server server(io, broker, limits);
  if (auto s = server.Listen(*config.listener); !s.ok()) return Fail(s.message());

  signals.async_wait([&](std::error_code, int signo) {
    spdlog::info("signal {} received, shutting down", signo);
    server.Stop();
    txns.value()->Stop();
    io.stop();
  });
  server.Start();
  spdlog::info("{} {} listening on {}, data in {}, cluster {}", kProgram, tern::kVersion,
               config.listener->ToString(), config.data_dir, cluster_id.value());
  io.run();
  topics.ForEachLog([](tern::broker::storage::PartitionLog& log) {
    if (auto s = log.Close(); !s.ok()) spdlog::error("closing {}: {}", log.dir(), s.ToString());
  });
  spdlog::info("stopped");
  return 0;
}
