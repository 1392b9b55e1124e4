// tern-bench-rdkafka: the librdkafka client of bench/broker_bench.py.
//
//   produce: sends N records of a fixed size, at full speed or at a fixed rate, and measures the
//            latency of each record from produce() to its delivery report. The first W records
//            (--warmup) warm up connections and metadata and are left out of the results.
//            With --transaction-ms T the producer is transactional: a transaction is committed
//            once it has been open T ms (and at the end), and the throughput runs to the last
//            commit.
//   consume: reads N records from every partition of a topic from the beginning, in assign mode
//            (no consumer group), and measures the time to read them all.
//   e2e:     end-to-end latency: a consumer in a consumer group (subscribe) reads what a
//            producer in the same process sends at a fixed rate; each record carries its send
//            time, and the latency is from produce() to the consumer's poll returning it. The
//            first W records are left out. The ten slowest are listed with their send times
//            (slowest_at_s_ms: [seconds after the start, ms]), to tell when stalls happened.
//
// Prints one line of JSON with the results on stdout; errors go to stderr. Single-threaded: the
// delivery reports and messages are served from this thread's poll calls.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <functional>
#include <unistd.h>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string bootstrap;
  std::string topic;
  long records = 100000;
  long warmup = 0;
  int size = 1024;
  std::string acks = "1";
  double rate = 0;  // records per second; 0 means as fast as possible
  double timeout_s = 300;
  double transaction_ms = 0;  // produce: commit a transaction every this many ms; 0: none
  std::vector<std::pair<std::string, std::string>> extra;  // --set key=value
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "tern-bench-rdkafka: %s\n", message.c_str());
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  if (argc < 2) {
    Fail("usage: tern-bench-rdkafka produce|consume|e2e --bootstrap HOST:PORT --topic T "
         "[--records N] [--warmup W] [--size BYTES] [--acks 1|all] [--rate R] [--timeout S] "
         "[--transaction-ms T] [--set k=v]...");
  }
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) Fail("missing value after " + std::string(flag));
    std::string value = argv[++i];
    if (flag == "--bootstrap") o.bootstrap = value;
    else if (flag == "--topic") o.topic = value;
    else if (flag == "--records") o.records = std::stol(value);
    else if (flag == "--warmup") o.warmup = std::stol(value);
    else if (flag == "--size") o.size = std::stoi(value);
    else if (flag == "--acks") o.acks = value;
    else if (flag == "--rate") o.rate = std::stod(value);
    else if (flag == "--timeout") o.timeout_s = std::stod(value);
    else if (flag == "--transaction-ms") o.transaction_ms = std::stod(value);
    else if (flag == "--set") {
      auto eq = value.find('=');
      if (eq == std::string::npos) Fail("--set wants key=value, got " + value);
      o.extra.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      Fail("unknown flag " + std::string(flag));
    }
  }
  if (o.mode != "produce" && o.mode != "consume" && o.mode != "e2e") {
    Fail("mode must be produce, consume or e2e");
  }
  if (o.bootstrap.empty() || o.topic.empty()) Fail("--bootstrap and --topic are required");
  if (o.transaction_ms < 0 || (o.transaction_ms > 0 && (o.mode != "produce" || o.acks != "all"))) {
    Fail("--transaction-ms must be positive, and is for produce with --acks all");
  }
  if (o.records <= 0 || o.size < 0 || o.warmup < 0 || o.warmup >= o.records) {
    Fail("--records must be positive, --size and --warmup non-negative, --warmup < --records");
  }
  return o;
}

rd_kafka_conf_t* MakeConf(const Options& o,
                          std::vector<std::pair<std::string, std::string>> settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  settings.emplace_back("bootstrap.servers", o.bootstrap);
  for (const auto& kv : o.extra) settings.push_back(kv);
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      Fail("config " + key + ": " + err);
    }
  }
  return conf;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Percentile by nearest rank over sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

struct ProduceState {
  std::vector<Clock::time_point> sent;  // indexed by record number, carried as msg_opaque
  uintptr_t warmup = 0;                 // records below this index are not measured
  std::vector<double> latency_ms;
  long delivered = 0;                   // all records, warm-up included
  long failed = 0;
  Clock::time_point last_delivery;
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* state = static_cast<ProduceState*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (state->failed++ == 0) state->first_error = rd_kafka_err2str(m->err);
    return;
  }
  const auto now = Clock::now();
  ++state->delivered;
  state->last_delivery = now;
  auto index = reinterpret_cast<uintptr_t>(m->_private);
  if (index >= state->warmup) {
    state->latency_ms.push_back(Seconds(now - state->sent[index]) * 1000.0);
  }
}

int Produce(const Options& o) {
  ProduceState state;
  state.sent.resize(static_cast<size_t>(o.records));
  state.warmup = static_cast<uintptr_t>(o.warmup);
  state.latency_ms.reserve(static_cast<size_t>(o.records));
  const bool transactional = o.transaction_ms > 0;
  rd_kafka_conf_t* conf =
      transactional
          ? MakeConf(o, {{"acks", "all"},
                         {"transactional.id", "tern-bench-txn-" + std::to_string(::getpid())}})
          : MakeConf(o, {{"acks", o.acks}, {"enable.idempotence", "false"}});
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &state);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) Fail(std::string("producer: ") + err);
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
  auto check = [](rd_kafka_error_t* error, const char* what) {
    if (error == nullptr) return;
    std::string message = std::string(what) + ": " + rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    Fail(message);
  };
  const auto transaction_length = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(o.transaction_ms));
  Clock::time_point transaction_started;
  long commits = 0;
  if (transactional) {
    check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
    check(rd_kafka_begin_transaction(rk), "begin_transaction");
    transaction_started = Clock::now();
  }

  std::string payload(static_cast<size_t>(o.size), 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.timeout_s));
  for (long i = 0; i < o.records; ++i) {
    if (o.rate > 0) {
      auto due = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(i) / o.rate));
      while (Clock::now() < due) {
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(1)));
      }
    }
    state.sent[static_cast<size_t>(i)] = Clock::now();
    while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload.data(),
                            payload.size(), nullptr, 0,
                            reinterpret_cast<void*>(static_cast<uintptr_t>(i))) == -1) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Fail(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
      }
      rd_kafka_poll(rk, 1);
      if (Clock::now() > deadline) Fail("timed out with the local queue full");
    }
    rd_kafka_poll(rk, 0);
    if (transactional && Clock::now() - transaction_started >= transaction_length) {
      check(rd_kafka_commit_transaction(rk, 60000), "commit_transaction");
      ++commits;
      check(rd_kafka_begin_transaction(rk), "begin_transaction");
      transaction_started = Clock::now();
    }
  }
  if (transactional) {
    check(rd_kafka_commit_transaction(rk, 60000), "commit_transaction");
    ++commits;
    state.last_delivery = Clock::now();
  }
  while (state.delivered + state.failed < o.records && Clock::now() < deadline) {
    rd_kafka_poll(rk, 10);
  }
  // Throughput over the measured records: from the first one's produce() to the last delivery
  // (transactional: to the last commit).
  const double elapsed = Seconds(state.last_delivery - state.sent[state.warmup]);
  rd_kafka_topic_destroy(topic);
  rd_kafka_flush(rk, 5000);
  rd_kafka_destroy(rk);

  std::vector<double>& lat = state.latency_ms;
  std::sort(lat.begin(), lat.end());
  double sum = 0;
  for (double v : lat) sum += v;
  const auto measured = static_cast<long>(lat.size());
  const double rps = static_cast<double>(measured) / elapsed;
  std::printf(
      "{\"records\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"records_per_s\": %.1f, "
      "\"mb_per_s\": %.2f, \"avg_ms\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
      "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"commits\": %ld, \"first_error\": \"%s\"}\n",
      measured, state.failed, elapsed, rps, rps * o.size / (1024.0 * 1024.0),
      lat.empty() ? 0 : sum / static_cast<double>(lat.size()), Percentile(lat, 50),
      Percentile(lat, 99), Percentile(lat, 99.9), lat.empty() ? 0 : lat.back(), commits,
      state.first_error.c_str());
  return state.delivered == o.records ? 0 : 1;
}

int PartitionCount(rd_kafka_t* rk, const std::string& name) {
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, name.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, topic, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail("metadata for " + name + " failed");
  }
  int count = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(topic);
  if (count <= 0) Fail("topic " + name + " has no partitions");
  return count;
}

int Consume(const Options& o) {
  // A group.id is required by the consumer API even in assign mode; nothing is ever committed
  // or joined (no subscribe, auto commit off), so the broker needs no group support.
  rd_kafka_conf_t* conf = MakeConf(o, {{"group.id", "tern-bench-unused"},
                                       {"enable.auto.commit", "false"},
                                       {"enable.partition.eof", "false"}});
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) Fail(std::string("consumer: ") + err);
  const int partitions = PartitionCount(rk, o.topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  const auto start = Clock::now();
  if (rd_kafka_assign(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("assign failed");
  rd_kafka_topic_partition_list_destroy(list);

  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.timeout_s));
  long count = 0;
  long bytes = 0;
  while (count < o.records && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++count;
      bytes += static_cast<long>(m->len);
    } else {
      std::fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  const double elapsed = Seconds(Clock::now() - start);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::printf("{\"records\": %ld, \"seconds\": %.3f, \"records_per_s\": %.1f, "
              "\"mb_per_s\": %.2f}\n",
              count, elapsed, static_cast<double>(count) / elapsed,
              static_cast<double>(bytes) / elapsed / (1024.0 * 1024.0));
  return count == o.records ? 0 : 1;
}

// The send time (steady clock, nanoseconds) and record number at the front of an e2e payload.
struct Stamp {
  std::int64_t sent_ns = 0;
  std::int64_t index = 0;
};

int EndToEnd(const Options& o) {
  char err[512];
  rd_kafka_conf_t* pconf = MakeConf(o, {{"acks", o.acks}, {"linger.ms", "0"}});
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
  if (producer == nullptr) Fail(std::string("producer: ") + err);
  const std::string group = "tern-bench-e2e-" + std::to_string(::getpid());
  rd_kafka_conf_t* cconf = MakeConf(o, {{"group.id", group}, {"auto.offset.reset", "earliest"},
                                        {"enable.partition.eof", "false"},
                                        {"fetch.wait.max.ms", "100"}});
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
  if (consumer == nullptr) Fail(std::string("consumer: ") + err);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, o.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(consumer, sub) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("subscribe failed");
  rd_kafka_topic_partition_list_destroy(sub);

  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.timeout_s));
  // Produce only once the group gave this member its partitions.
  for (;;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m != nullptr) rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(consumer, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        assigned->cnt > 0) {
      rd_kafka_topic_partition_list_destroy(assigned);
      break;
    }
    if (assigned != nullptr) rd_kafka_topic_partition_list_destroy(assigned);
    if (Clock::now() > deadline) Fail("the consumer group never assigned the topic");
  }

  std::string payload(std::max<size_t>(static_cast<size_t>(o.size), sizeof(Stamp)), 'x');
  std::vector<double> latency_ms;
  latency_ms.reserve(static_cast<size_t>(o.records));
  // The slowest records (latency ms, send time in s after the start): when the stalls were.
  constexpr std::size_t kSlowest = 10;
  std::vector<std::pair<double, double>> slowest;
  long received = 0;
  const auto start = Clock::now();
  // Takes every record the consumer has ready (waiting up to `timeout_ms` for the first).
  auto drain = [&](int timeout_ms) {
    for (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, timeout_ms); m != nullptr;
         m = rd_kafka_consumer_poll(consumer, 0)) {
      const auto now = Clock::now();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len >= sizeof(Stamp)) {
        Stamp stamp;
        std::memcpy(&stamp, m->payload, sizeof stamp);
        ++received;
        if (stamp.index >= o.warmup) {
          const auto sent = Clock::time_point(std::chrono::nanoseconds(stamp.sent_ns));
          latency_ms.push_back(Seconds(now - sent) * 1000.0);
          slowest.emplace_back(latency_ms.back(), Seconds(sent - start));
          if (slowest.size() > 2 * kSlowest) {
            std::nth_element(slowest.begin(), slowest.begin() + kSlowest, slowest.end(),
                             std::greater<>());
            slowest.resize(kSlowest);
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
  };
  const double rate = o.rate > 0 ? o.rate : 1000;
  for (long i = 0; i < o.records; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(i) / rate));
    while (Clock::now() < due) {
      rd_kafka_poll(producer, 0);
      drain(0);
      std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::microseconds(200)));
    }
    Stamp stamp{std::chrono::duration_cast<std::chrono::nanoseconds>(
                    Clock::now().time_since_epoch()).count(), i};
    std::memcpy(payload.data(), &stamp, sizeof stamp);
    if (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(o.topic.c_str()),
                          RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("produce failed");
    }
    rd_kafka_poll(producer, 0);
    drain(0);
  }
  while (received < o.records && Clock::now() < deadline) {
    rd_kafka_poll(producer, 0);
    drain(10);
  }
  rd_kafka_flush(producer, 5000);
  rd_kafka_destroy(producer);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);

  std::sort(latency_ms.begin(), latency_ms.end());
  std::sort(slowest.begin(), slowest.end(), std::greater<>());
  if (slowest.size() > kSlowest) slowest.resize(kSlowest);
  std::string slow = "[";
  for (const auto& [ms, at] : slowest) {
    if (slow.size() > 1) slow += ", ";
    slow += "[" + std::to_string(at) + ", " + std::to_string(ms) + "]";
  }
  slow += "]";
  double sum = 0;
  for (double v : latency_ms) sum += v;
  std::printf("{\"records\": %ld, \"received\": %ld, \"records_per_s\": %.1f, "
              "\"mb_per_s\": 0, \"avg_ms\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
              "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"slowest_at_s_ms\": %s}\n",
              static_cast<long>(latency_ms.size()), received, rate,
              latency_ms.empty() ? 0 : sum / static_cast<double>(latency_ms.size()),
              Percentile(latency_ms, 50), Percentile(latency_ms, 99),
              Percentile(latency_ms, 99.9), latency_ms.empty() ? 0 : latency_ms.back(),
              slow.c_str());
  return received == o.records ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  if (o.mode == "e2e") return EndToEnd(o);
  return o.mode == "produce" ? Produce(o) : Consume(o);
}
