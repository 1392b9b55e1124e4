#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tern::crc32c {
namespace {

TEST(Crc32cTest, CheckValueOfDigits) {
  EXPECT_EQ(Value(std::string_view("123456789")), 0xE3069283u);
  EXPECT_EQ(ExtendSoftware(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, EmptyInputIsZero) { EXPECT_EQ(Value(std::string_view()), 0u); }

// Vectors from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32cTest, Rfc3720Vectors) {
  const std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8A9136AAu);
  const std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62A8AB43u);
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
  EXPECT_EQ(Value(descending), 0x113FDB5Cu);
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::mt19937 rng(42);
  std::string data(1000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  const std::uint32_t whole = Value(data);
  for (std::size_t cut = 0; cut <= data.size(); cut += 7) {
    const std::uint32_t first = Extend(0, data.data(), cut);
    EXPECT_EQ(Extend(first, data.data() + cut, data.size() - cut), whole) << "cut " << cut;
  }
}

TEST(Crc32cTest, HardwareMatchesSoftwareAtEveryLengthAndAlignment) {
  if (!HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(600);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t len = 0; len + offset <= buf.size(); len += (len < 64 ? 1 : 13)) {
      const std::uint32_t seed = static_cast<std::uint32_t>(rng());
      ASSERT_EQ(ExtendHardware(seed, buf.data() + offset, len),
                ExtendSoftware(seed, buf.data() + offset, len))
          << "offset " << offset << " length " << len;
    }
  }
}

}  // namespace
}  // namespace tern::crc32c
