#include "broker/cluster/topics.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <random>

#include "broker/storage/file.h"

namespace tern::broker {
namespace {

constexpr std::size_t kMaxTopicNameLength = 249;

std::string UuidToHex(const kafka::Uuid& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (auto b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

bool UuidFromHex(const std::string& hex, kafka::Uuid* out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

kafka::Uuid NewTopicId() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  kafka::Uuid id{};
  do {
    for (auto& b : id) b = static_cast<std::uint8_t>(random());
  } while (id == kafka::Uuid{});
  return id;
}

Topics::Topics(std::string data_dir, BrokerLogDefaults defaults)
    : data_dir_(std::move(data_dir)), defaults_(std::move(defaults)) {}

Status Topics::ValidateName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("topic name is empty");
  if (name == "." || name == "..") return Status::InvalidArgument("topic name cannot be '.' or '..'");
  if (name.size() > kMaxTopicNameLength) {
    return Status::InvalidArgument("topic name is longer than 249 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("topic name '" + name +
                                     "' has a character outside [a-zA-Z0-9._-]");
    }
  }
  return Status::Ok();
}

std::string Topics::PartitionDir(const std::string& topic, std::int32_t index) const {
  return data_dir_ + "/" + topic + "-" + std::to_string(index);
}

Partition Topics::OpenPartition(const Topic& topic, std::int32_t index) const {
  Partition p;
  p.index = index;
  auto log = storage::PartitionLog::Open(PartitionDir(topic.name, index),
                                         ToLogConfig(defaults_, topic.configs));
  if (log.ok()) {
    p.log = std::move(log).value();
  } else {
    p.open_error = log.status();
    spdlog::error("partition {}-{} is offline: {}", topic.name, index, p.open_error.ToString());
  }
  return p;
}

Status Topics::WriteDefinition(const Topic& topic) const {
  nlohmann::json j;
  j["name"] = topic.name;
  j["id"] = UuidToHex(topic.id);
  j["partitions"] = topic.partitions.size();
  j["configs"] = topic.configs;
  j["internal"] = topic.internal;
  return storage::WriteFileDurably(data_dir_ + "/topics", topic.name + ".json", j.dump(2) + "\n");
}

Status Topics::Load() {
  if (auto s = storage::CreateDirectories(data_dir_ + "/topics"); !s.ok()) return s;
  auto names = storage::ListDirectory(data_dir_ + "/topics");
  if (!names.ok()) return names.status();
  for (const auto& file : names.value()) {
    if (file.size() < 6 || file.substr(file.size() - 5) != ".json") continue;
    const std::string path = data_dir_ + "/topics/" + file;
    auto text = storage::ReadWholeFile(path);
    if (!text.ok()) return text.status();
    auto topic = std::make_unique<Topic>();
    std::int64_t count = 0;
    try {
      const auto j = nlohmann::json::parse(text.value());
      topic->name = j.at("name").get<std::string>();
      count = j.at("partitions").get<std::int64_t>();
      topic->configs = j.at("configs").get<TopicConfigs>();
      topic->internal = j.value("internal", false);
      if (!UuidFromHex(j.at("id").get<std::string>(), &topic->id)) throw std::runtime_error("bad id");
    } catch (const std::exception& e) {
      return Status::Corruption("topic definition " + path + " is unreadable: " + e.what());
    }
    for (std::int32_t i = 0; i < count; ++i) topic->partitions.push_back(OpenPartition(*topic, i));
    spdlog::info("loaded topic {} with {} partitions", topic->name, count);
    std::lock_guard lock(mu_);
    topics_[topic->name] = std::move(topic);
  }
  return Status::Ok();
}

Result<const Topic*> Topics::Create(const std::string& name, std::int32_t partitions,
                                    const TopicConfigs& configs, bool validate_only) {
  if (auto s = ValidateName(name); !s.ok()) return s;
  if (topics_.count(name) != 0) return Status::AlreadyExists("topic '" + name + "' already exists");
  if (partitions < 1 || partitions > 100000) {
    return Status::OutOfRange("number of partitions must be between 1 and 100000");
  }
  for (const auto& [key, value] : configs) {
    if (auto s = ValidateTopicConfig(key, value); !s.ok()) return s;
  }
  if (validate_only) return static_cast<const Topic*>(nullptr);
  auto topic = std::make_unique<Topic>();
  topic->name = name;
  topic->id = NewTopicId();
  topic->configs = configs;
  topic->internal = !name.empty() && name.front() == '_' && name.rfind("__", 0) == 0;
  for (std::int32_t i = 0; i < partitions; ++i) topic->partitions.push_back(Partition{i, nullptr, {}});
  if (auto s = WriteDefinition(*topic); !s.ok()) return s;
  for (std::int32_t i = 0; i < partitions; ++i) topic->partitions[i] = OpenPartition(*topic, i);
  spdlog::info("created topic {} with {} partitions", name, partitions);
  const Topic* out = topic.get();
  std::lock_guard lock(mu_);
  topics_[name] = std::move(topic);
  return out;
}

Status Topics::Delete(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status::NotFound("topic '" + name + "' does not exist");
  if (auto s = storage::RemoveFile(data_dir_ + "/topics/" + name + ".json"); !s.ok()) return s;
  if (auto s = storage::SyncDirectory(data_dir_ + "/topics"); !s.ok()) return s;
  std::unique_ptr<Topic> topic;
  {
    std::lock_guard lock(mu_);
    topic = std::move(it->second);
    topics_.erase(it);
  }
  for (auto& p : topic->partitions) {
    Status s = p.log ? p.log->Delete() : storage::RemoveDirectoryTree(PartitionDir(name, p.index));
    if (!s.ok()) spdlog::warn("deleting {}-{}: {}", name, p.index, s.ToString());
  }
  spdlog::info("deleted topic {}", name);
  return Status::Ok();
}

Status Topics::AddPartitions(const std::string& name, std::int32_t count, bool validate_only) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status::NotFound("topic '" + name + "' does not exist");
  Topic& topic = *it->second;
  const auto current = static_cast<std::int32_t>(topic.partitions.size());
  if (count <= current) {
    return Status::InvalidArgument("topic currently has " + std::to_string(current) +
                                   " partitions, " + std::to_string(count) +
                                   " would not be an increase");
  }
  if (count > 100000) return Status::InvalidArgument("at most 100000 partitions per topic");
  if (validate_only) return Status::Ok();
  Topic grown = topic;
  grown.partitions.resize(static_cast<std::size_t>(count));
  if (auto s = WriteDefinition(grown); !s.ok()) return s;
  std::vector<Partition> added;
  for (std::int32_t i = current; i < count; ++i) added.push_back(OpenPartition(topic, i));
  std::lock_guard lock(mu_);
  for (auto& p : added) topic.partitions.push_back(std::move(p));
  return Status::Ok();
}

Status Topics::SetConfigs(const std::string& name, const TopicConfigs& configs,
                          bool validate_only) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status::NotFound("topic '" + name + "' does not exist");
  for (const auto& [key, value] : configs) {
    if (auto s = ValidateTopicConfig(key, value); !s.ok()) return s;
  }
  if (validate_only) return Status::Ok();
  Topic& topic = *it->second;
  Topic changed = topic;
  changed.configs = configs;
  if (auto s = WriteDefinition(changed); !s.ok()) return s;
  topic.configs = configs;
  const auto log_config = ToLogConfig(defaults_, configs);
  for (auto& p : topic.partitions) {
    if (p.log) p.log->SetConfig(log_config);
  }
  return Status::Ok();
}

const Topic* Topics::Find(const std::string& name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

const Topic* Topics::FindById(const kafka::Uuid& id) const {
  for (const auto& [name, topic] : topics_) {
    if (topic->id == id) return topic.get();
  }
  return nullptr;
}

std::shared_ptr<storage::PartitionLog> Topics::Log(const std::string& topic,
                                                   std::int32_t partition) const {
  const Topic* t = Find(topic);
  if (t == nullptr || partition < 0 || partition >= static_cast<std::int32_t>(t->partitions.size())) {
    return nullptr;
  }
  return t->partitions[static_cast<std::size_t>(partition)].log;
}

std::vector<const Topic*> Topics::All() const {
  std::vector<const Topic*> out;
  for (const auto& [name, topic] : topics_) out.push_back(topic.get());
  return out;
}

void Topics::ForEachLog(const std::function<void(storage::PartitionLog&)>& fn) const {
  std::vector<std::shared_ptr<storage::PartitionLog>> logs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, topic] : topics_) {
      for (const auto& p : topic->partitions) {
        if (p.log) logs.push_back(p.log);
      }
    }
  }
  for (auto& log : logs) fn(*log);
}

}  // namespace tern::broker
