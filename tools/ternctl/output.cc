#include "tools/ternctl/output.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <ctime>

#include "common/wall_clock.h"

namespace tern::ternctl {
namespace {

bool IsNumber(const std::string& s) {
  if (s.empty() || s == "-") return s == "-";
  std::size_t i = s[0] == '-' ? 1 : 0;
  bool digit = false;
  for (; i < s.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      digit = true;
    } else if (s[i] != '.' && s[i] != 's' && s[i] != '%') {
      return false;
    }
  }
  return digit;
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> width(headers_.size());
  std::vector<bool> numeric(headers_.size(), true);
  for (std::size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
      numeric[c] = numeric[c] && IsNumber(row[c]);
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string text;
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string();
      const bool right = numeric[c] && !rows_.empty() && !header;
      const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      if (c > 0) text += "  ";
      text += right ? pad + cell : cell + (c + 1 < width.size() ? pad : "");
    }
    out << text << '\n';
  };
  line(headers_, true);
  for (const auto& row : rows_) line(row, false);
}

void PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json << '\n';
}

std::string Count(std::int64_t n) { return n < 0 ? "-" : std::to_string(n); }

std::string Seconds(double s) {
  if (s < 0) return "-";
  if (s < 10) return fmt::format("{:.1f}s", s);
  return fmt::format("{:.0f}s", s);
}

std::string ProgressBar(std::int64_t done, std::int64_t total, int width) {
  if (done < 0 || total < 0) return "[" + std::string(width, ' ') + "]    -";
  const double fraction =
      total == 0 ? 1.0
                 : std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  const int filled = static_cast<int>(fraction * width + 0.5);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') +
         fmt::format("] {:3.0f}%", fraction * 100);
}

std::string Eta(std::int64_t lag, double rate) {
  if (lag < 0) return "-";
  if (lag == 0) return "done";
  if (rate <= 0) return "-";
  const auto s = static_cast<std::int64_t>(static_cast<double>(lag) / rate);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string Ago(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "never";
  const double age = static_cast<double>(
                         WallClockMs() -
                         google::protobuf::util::TimeUtil::TimestampToMilliseconds(t)) /
                     1000;
  return Seconds(std::max(age, 0.0)) + " ago";
}

std::string EnumLabel(const std::string& full_name, const std::string& prefix) {
  return full_name.rfind(prefix, 0) == 0 ? full_name.substr(prefix.size()) : full_name;
}

}  // namespace tern::ternctl
