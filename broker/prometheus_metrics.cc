// The one place in tern-broker that sets up prometheus-cpp.
#include "broker/prometheus_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "tern/version.h"

namespace tern::broker {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Log size and end offset of each partition, read at scrape time.
class LogCollector final : public prometheus::Collectable {
 public:
  LogCollector(const Topics& topics, std::size_t max_series)
      : topics_(topics), max_series_(max_series) {}

  std::vector<MetricFamily> Collect() const override {
    MetricFamily size{"tern_broker_log_size_bytes", "Bytes held by a partition's log",
                      MetricType::Gauge, {}};
    MetricFamily end{"tern_broker_log_end_offset", "Next offset a partition's log assigns",
                     MetricType::Gauge, {}};
    MetricFamily partitions{"tern_broker_partitions", "Partitions with an open log",
                            MetricType::Gauge, {}};
    MetricFamily total{"tern_broker_log_size_total_bytes", "Bytes held by all partition logs",
                       MetricType::Gauge, {}};
    double total_bytes = 0;
    std::size_t count = 0;
    topics_.ForEachLog([&](storage::PartitionLog& log) {
      const auto bytes = static_cast<double>(log.size_bytes());
      total_bytes += bytes;
      if (count++ >= max_series_) return;
      // The partition directory is "<topic>-<partition>".
      const std::string dir = std::filesystem::path(log.dir()).filename().string();
      const auto dash = dir.rfind('-');
      std::vector<ClientMetric::Label> labels{{"topic", dir.substr(0, dash)},
                                              {"partition", dir.substr(dash + 1)}};
      ClientMetric m;
      m.label = labels;
      m.gauge.value = bytes;
      size.metric.push_back(m);
      m.gauge.value = static_cast<double>(log.log_end_offset());
      end.metric.push_back(m);
    });
    ClientMetric c;
    c.gauge.value = static_cast<double>(count);
    partitions.metric.push_back(c);
    c.gauge.value = total_bytes;
    total.metric.push_back(c);
    return {size, end, partitions, total};
  }

 private:
  const Topics& topics_;
  const std::size_t max_series_;
};

class PrometheusMetrics final : public BrokerMetrics {
 public:
  PrometheusMetrics(std::unique_ptr<prometheus::Exposer> exposer, const Topics& topics,
                    std::size_t max_series)
      : exposer_(std::move(exposer)),
        registry_(std::make_shared<prometheus::Registry>()),
        requests_(prometheus::BuildCounter()
                      .Name("tern_broker_requests_total")
                      .Help("Requests handled, by Kafka API")
                      .Register(*registry_)),
        latency_(prometheus::BuildHistogram()
                     .Name("tern_broker_request_duration_seconds")
                     .Help("Time from a request's arrival to its response, by Kafka API")
                     .Register(*registry_)),
        errors_(prometheus::BuildCounter()
                    .Name("tern_broker_response_errors_total")
                    .Help("Error codes returned in responses, by Kafka API and error code")
                    .Register(*registry_)),
        duplicates_(prometheus::BuildCounter()
                        .Name("tern_broker_duplicate_batches_total")
                        .Help("Idempotent producers' resends of batches already in the log, "
                              "acknowledged without writing them again")
                        .Register(*registry_)
                        .Add({})),
        txns_ended_(prometheus::BuildCounter()
                        .Name("tern_broker_transactions_ended_total")
                        .Help("Transactions ended, by outcome: commit, abort (EndTxn or a new "
                              "producer instance), timeout (aborted by the coordinator)")
                        .Register(*registry_)),
        txns_open_(prometheus::BuildGauge()
                       .Name("tern_broker_transactions_open")
                       .Help("Transactions open now, across every transactional id")
                       .Register(*registry_)
                       .Add({})),
        bytes_in_(prometheus::BuildCounter()
                      .Name("tern_broker_received_bytes_total")
                      .Help("Request bytes received")
                      .Register(*registry_)
                      .Add({})),
        bytes_out_(prometheus::BuildCounter()
                       .Name("tern_broker_sent_bytes_total")
                       .Help("Response bytes sent")
                       .Register(*registry_)
                       .Add({})),
        connections_(prometheus::BuildGauge()
                         .Name("tern_broker_connections")
                         .Help("Open client connections")
                         .Register(*registry_)
                         .Add({})),
        collector_(std::make_shared<LogCollector>(topics, max_series)) {
    prometheus::BuildGauge()
        .Name("tern_broker_build_info")
        .Help("Always 1; the labels carry the build's version")
        .Register(*registry_)
        .Add({{"version", kVersion}})
        .Set(1);
    exposer_->RegisterCollectable(registry_);
    exposer_->RegisterCollectable(collector_);
  }

  void RequestHandled(std::string_view api, double seconds) override {
    std::lock_guard lock(mu_);
    auto& entry = per_api_[std::string(api)];
    if (entry.count == nullptr) {
      entry.count = &requests_.Add({{"api", std::string(api)}});
      entry.latency = &latency_.Add({{"api", std::string(api)}},
                                    prometheus::Histogram::BucketBoundaries{
                                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25, 0.5, 1, 2.5, 5, 10});
    }
    entry.count->Increment();
    entry.latency->Observe(seconds);
  }
  void ErrorReturned(std::string_view api, std::int16_t code) override {
    errors_.Add({{"api", std::string(api)}, {"code", std::to_string(code)}}).Increment();
  }
  void DuplicateBatch() override { duplicates_.Increment(); }
  void TransactionEnded(std::string_view outcome) override {
    txns_ended_.Add({{"outcome", std::string(outcome)}}).Increment();
  }
  void TransactionsOpen(std::int64_t count) override {
    txns_open_.Set(static_cast<double>(count));
  }
  void BytesReceived(std::int64_t bytes) override { bytes_in_.Increment(static_cast<double>(bytes)); }
  void BytesSent(std::int64_t bytes) override { bytes_out_.Increment(static_cast<double>(bytes)); }
  void ConnectionOpened() override { connections_.Increment(); }
  void ConnectionClosed() override { connections_.Decrement(); }

 private:
  struct PerApi {
    prometheus::Counter* count = nullptr;
    prometheus::Histogram* latency = nullptr;
  };

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& duplicates_;
  prometheus::Family<prometheus::Counter>& txns_ended_;
  prometheus::Gauge& txns_open_;
  prometheus::Counter& bytes_in_;
  prometheus::Counter& bytes_out_;
  prometheus::Gauge& connections_;
  std::shared_ptr<LogCollector> collector_;
  std::mutex mu_;
  std::map<std::string, PerApi> per_api_;
};

}  // namespace

Result<std::unique_ptr<BrokerMetrics>> StartPrometheusMetrics(const HostPort& listen,
                                                              const Topics& topics,
                                                              std::size_t max_partition_series) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen.ToString());
  } catch (const std::exception& e) {
    return Status::IoError("cannot serve metrics on " + listen.ToString() + ": " + e.what());
  }
  return std::unique_ptr<BrokerMetrics>(
      std::make_unique<PrometheusMetrics>(std::move(exposer), topics, max_partition_series));
}

}  // namespace tern::broker
