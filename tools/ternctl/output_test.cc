#include "tools/ternctl/output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace tern::ternctl {
namespace {

TEST(TableTest, AlignsColumnsAndRightAlignsNumbers) {
  Table table({"TOPIC", "LAG"});
  table.Add({"orders", "5"});
  table.Add({"payments-eu", "1200"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "TOPIC        LAG\n"
            "orders          5\n"
            "payments-eu  1200\n");
}

TEST(TableTest, TextColumnsStayLeftAligned) {
  Table table({"A", "STATE"});
  table.Add({"x", "COPYING"});
  table.Add({"y", "-"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "A  STATE\n"
            "x  COPYING\n"
            "y  -\n");
}

TEST(OutputTest, UnknownValuesPrintAsDash) {
  EXPECT_EQ(Count(-1), "-");
  EXPECT_EQ(Count(42), "42");
  EXPECT_EQ(Seconds(-1), "-");
  EXPECT_EQ(Seconds(2.25), "2.2s");
  EXPECT_EQ(Seconds(75), "75s");
  EXPECT_EQ(Time(google::protobuf::Timestamp()), "-");
  EXPECT_EQ(EnumLabel("FLOW_STATE_PAUSED", "FLOW_STATE_"), "PAUSED");
}

TEST(OutputTest, ProgressBarFillsWithTheCopiedShare) {
  EXPECT_EQ(ProgressBar(0, 200, 10), "[..........]   0%");
  EXPECT_EQ(ProgressBar(90, 200, 10), "[#####.....]  45%");
  EXPECT_EQ(ProgressBar(200, 200, 10), "[##########] 100%");
  EXPECT_EQ(ProgressBar(0, 0, 10), "[##########] 100%");  // an empty partition: nothing to copy
}

TEST(OutputTest, ProgressBarOfAnUnknownPositionIsBlank) {
  EXPECT_EQ(ProgressBar(-1, 200, 10), "[          ]    -");
  EXPECT_EQ(ProgressBar(100, -1, 10), "[          ]    -");  // e.g. a paused partition
}

TEST(OutputTest, EtaIsDoneOnlyWhenNothingWaits) {
  EXPECT_EQ(Eta(0, 0), "done");
  EXPECT_EQ(Eta(-1, 100), "-");
  EXPECT_EQ(Eta(500, 0), "-");
  EXPECT_EQ(Eta(500, 100), "5s");
  EXPECT_EQ(Eta(18'500, 100), "3m05s");
  EXPECT_EQ(Eta(780'000, 100), "2h10m");
}

TEST(OutputTest, TimesAreUtc) {
  google::protobuf::Timestamp t;
  t.set_seconds(1'795'600'000);
  EXPECT_EQ(Time(t), "2026-11-25 09:46:40Z");
}

}  // namespace
}  // namespace tern::ternctl
