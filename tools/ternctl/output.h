// How ternctl prints: aligned tables for people, protobuf's JSON mapping for scripts.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace tern::ternctl {

// Columns separated by two spaces; a column whose every cell is a number is right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;
  std::size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// One JSON object on one line (snake_case field names, zero values included).
void PrintJson(const google::protobuf::Message& message, std::ostream& out);

// "-" for an unknown (negative) value.
std::string Count(std::int64_t n);
std::string Seconds(double s);
// "2026-11-25 08:00:01Z", "-" when unset.
std::string Time(const google::protobuf::Timestamp& t);
// "12s ago"
std::string Ago(const google::protobuf::Timestamp& t);
// "[#########...........]  45%": `done` of `total` in `width` characters; an empty total is
// complete; an unknown (negative) one leaves the bar blank and the percentage "-".
std::string ProgressBar(std::int64_t done, std::int64_t total, int width);
// Time to copy `lag` records at `rate` per second: "done" when nothing waits, "-" when the
// lag is unknown (negative) or nothing moves, else "42s", "3m05s", "2h10m".
std::string Eta(std::int64_t lag, double rate);
// "RUNNING" from "REPLICATOR_STATE_RUNNING".
std::string EnumLabel(const std::string& full_name, const std::string& prefix);

}  // namespace tern::ternctl
