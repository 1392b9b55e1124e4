// BrokerContext: what every handler reaches — the broker's identity and configuration, and
// (as they arrive) its topics, logs and coordinators. Owned by main; lives as long as the
// server. Accessed only from the network thread unless a member says otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "common/host_port.h"

namespace tern::broker {

class BrokerContext {
 public:
  BrokerContext(std::int32_t node_id, std::string cluster_id, HostPort advertised)
      : node_id_(node_id), cluster_id_(std::move(cluster_id)), advertised_(std::move(advertised)) {}

  std::int32_t node_id() const { return node_id_; }
  const std::string& cluster_id() const { return cluster_id_; }
  const HostPort& advertised() const { return advertised_; }

 private:
  std::int32_t node_id_;
  std::string cluster_id_;
  HostPort advertised_;
};

}  // namespace tern::broker
