#include "kafka/compression.h"

#include <gtest/gtest.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

namespace tern::kafka {
namespace {

constexpr std::size_t kMiB = 1 << 20;
constexpr Codec kCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4,
                             Codec::kZstd};
constexpr Codec kCompressingCodecs[] = {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Text-like bytes that compress well but not to nothing.
std::string CompressibleBytes(std::size_t n) {
  static constexpr std::string_view kWords[] = {"alpha ", "bravo ", "charlie ", "delta ",
                                                "echo ",  "foxtrot ", "golf ",  "hotel\n"};
  std::mt19937 rng(7);
  std::string out;
  out.reserve(n);
  while (out.size() < n) out.append(kWords[rng() % std::size(kWords)]);
  out.resize(n);
  return out;
}

std::string MustCompress(Codec codec, std::string_view input) {
  auto compressed = Compress(codec, input);
  EXPECT_TRUE(compressed.ok()) << compressed.status().ToString();
  return compressed.ok() ? std::move(compressed).value() : std::string();
}

std::string BigEndian32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// Java clients' snappy framing, built from raw snappy blocks of `chunk` input bytes each.
std::string XerialFrame(std::string_view input, std::size_t chunk) {
  std::string out("\x82SNAPPY\0", 8);
  out += BigEndian32(1);  // version
  out += BigEndian32(1);  // compatible version
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    std::string block;
    snappy::Compress(input.data() + pos, std::min(chunk, input.size() - pos), &block);
    out += BigEndian32(static_cast<std::uint32_t>(block.size()));
    out += block;
  }
  return out;
}

class CodecTest : public testing::TestWithParam<Codec> {};
class CompressingCodecTest : public testing::TestWithParam<Codec> {};

std::string CodecTestName(const testing::TestParamInfo<Codec>& param_info) {
  return std::string(CodecName(param_info.param));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, testing::ValuesIn(kCodecs), CodecTestName);
INSTANTIATE_TEST_SUITE_P(AllCodecs, CompressingCodecTest, testing::ValuesIn(kCompressingCodecs),
                         CodecTestName);

TEST_P(CodecTest, RoundTripsEmptyTinyRandomAndCompressibleInputs) {
  const std::string inputs[] = {"", "x", "hello, tern", RandomBytes(kMiB, 1),
                                CompressibleBytes(kMiB)};
  for (const std::string& input : inputs) {
    const std::string compressed = MustCompress(GetParam(), input);
    auto decoded = Decompress(GetParam(), compressed, input.size());
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString() << " size " << input.size();
    EXPECT_TRUE(decoded.value() == input) << "size " << input.size();
  }
}

TEST_P(CompressingCodecTest, CompressibleInputShrinks) {
  const std::string input = CompressibleBytes(kMiB);
  EXPECT_LT(MustCompress(GetParam(), input).size(), input.size() / 2);
}

TEST_P(CodecTest, OutputExactlyAtTheLimitIsAccepted) {
  const std::string input(100000, 'z');
  auto decoded = Decompress(GetParam(), MustCompress(GetParam(), input), input.size());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value().size(), input.size());
}

TEST_P(CodecTest, OutputOneByteOverTheLimitIsRejected) {
  const std::string input(100000, 'z');
  auto decoded = Decompress(GetParam(), MustCompress(GetParam(), input), input.size() - 1);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("exceeds the limit"), std::string::npos)
      << decoded.status().ToString();
}

TEST_P(CompressingCodecTest, SmallInputExpandingFarPastTheLimitIsRejected) {
  const std::string bomb = MustCompress(GetParam(), std::string(16 * kMiB, '\0'));
  ASSERT_LT(bomb.size(), kMiB);
  auto decoded = Decompress(GetParam(), bomb, kMiB);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("exceeds the limit"), std::string::npos)
      << decoded.status().ToString();
}

TEST_P(CompressingCodecTest, EveryTruncationFailsCleanly) {
  const std::string input = CompressibleBytes(20000) + RandomBytes(2000, 2);
  const std::string compressed = MustCompress(GetParam(), input);
  for (std::size_t n = 0; n < compressed.size(); ++n) {
    auto decoded = Decompress(GetParam(), std::string_view(compressed).substr(0, n), kMiB);
    EXPECT_FALSE(decoded.ok()) << "prefix of " << n << " of " << compressed.size();
  }
}

TEST_P(CompressingCodecTest, RandomGarbageFailsCleanly) {
  for (std::uint32_t seed = 0; seed < 200; ++seed) {
    const std::string garbage = RandomBytes(1 + seed * 7, seed);
    auto decoded = Decompress(GetParam(), garbage, kMiB);
    // A short raw snappy block has no checksum, so garbage can be a valid one by chance.
    if (GetParam() != Codec::kSnappy) {
      EXPECT_FALSE(decoded.ok()) << "seed " << seed;
    }
    if (decoded.ok()) {
      EXPECT_LE(decoded.value().size(), kMiB);
    }
  }
}

TEST_P(CompressingCodecTest, CorruptedBytesNeverCrashOrOverrun) {
  const std::string input = CompressibleBytes(5000);
  const std::string compressed = MustCompress(GetParam(), input);
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    std::string damaged = compressed;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    auto decoded = Decompress(GetParam(), damaged, 8000);
    if (decoded.ok()) {
      EXPECT_LE(decoded.value().size(), 8000u);
    }
  }
}

TEST_P(CompressingCodecTest, TrailingJunkIsRejected) {
  const std::string compressed = MustCompress(GetParam(), "some record bytes") + "junk";
  EXPECT_FALSE(Decompress(GetParam(), compressed, kMiB).ok());
}

TEST(CompressionTest, UnknownCodecIsUnsupported) {
  const auto codec = static_cast<Codec>(5);
  EXPECT_EQ(Decompress(codec, "abc", kMiB).status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(Compress(codec, "abc").status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(CodecName(codec), "unknown");
}

TEST(CompressionTest, XerialFramedSnappyDecodes) {
  const std::string input = CompressibleBytes(300000) + RandomBytes(50000, 4);
  auto decoded = Decompress(Codec::kSnappy, XerialFrame(input, 32 * 1024), kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.value() == input);
}

TEST(CompressionTest, XerialFrameWithNoBlocksDecodesToNothing) {
  auto decoded = Decompress(Codec::kSnappy, XerialFrame("", 1), kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded.value(), "");
}

TEST(CompressionTest, XerialOutputLimitCountsEveryBlock) {
  const std::string input(200000, 'q');
  const std::string framed = XerialFrame(input, 32 * 1024);
  EXPECT_TRUE(Decompress(Codec::kSnappy, framed, input.size()).ok());
  auto decoded = Decompress(Codec::kSnappy, framed, input.size() - 1);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("exceeds the limit"), std::string::npos);
}

TEST(CompressionTest, XerialTruncationFailsOrYieldsWholeBlocks) {
  const std::string input = CompressibleBytes(20000);
  const std::string framed = XerialFrame(input, 4096);
  for (std::size_t n = 0; n < framed.size(); ++n) {
    auto decoded = Decompress(Codec::kSnappy, std::string_view(framed).substr(0, n), kMiB);
    // A cut between blocks is indistinguishable from a shorter frame.
    if (decoded.ok()) {
      EXPECT_EQ(decoded.value().size() % 4096, 0u) << "prefix of " << n;
      EXPECT_TRUE(input.starts_with(decoded.value())) << "prefix of " << n;
    }
  }
}

TEST(CompressionTest, XerialNegativeBlockLengthIsRejected) {
  std::string framed = XerialFrame("", 1) + BigEndian32(0xfffffff0u) + "abc";
  EXPECT_FALSE(Decompress(Codec::kSnappy, framed, kMiB).ok());
}

TEST(CompressionTest, GzipAcceptsZlibHeader) {
  const std::string input = CompressibleBytes(10000);
  uLongf size = compressBound(input.size());
  std::string zlib_stream(size, '\0');
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(zlib_stream.data()), &size,
                      reinterpret_cast<const Bytef*>(input.data()), input.size(), 6),
            Z_OK);
  zlib_stream.resize(size);
  auto decoded = Decompress(Codec::kGzip, zlib_stream, kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.value() == input);
}

TEST(CompressionTest, GzipConcatenatedMembersDecodeAsOneStream) {
  const std::string a = CompressibleBytes(3000);
  const std::string b = RandomBytes(3000, 5);
  auto decoded = Decompress(Codec::kGzip, MustCompress(Codec::kGzip, a) +
                                              MustCompress(Codec::kGzip, b), kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.value() == a + b);
}

TEST(CompressionTest, GzipOutputHasGzipMagic) {
  const std::string compressed = MustCompress(Codec::kGzip, "abc");
  ASSERT_GE(compressed.size(), 2u);
  EXPECT_EQ(compressed.substr(0, 2), "\x1f\x8b");
}

// Frames with options Kafka's own writer does not use, as other LZ4 writers may.
TEST(CompressionTest, Lz4FramesWithContentSizeChecksumsAndLinkedBlocksDecode) {
  const std::string input = CompressibleBytes(300000) + RandomBytes(100000, 6);
  for (const auto block_size : {LZ4F_max64KB, LZ4F_max256KB, LZ4F_max1MB, LZ4F_max4MB}) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = block_size;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentSize = input.size();
    std::string frame(LZ4F_compressFrameBound(input.size(), &prefs), '\0');
    const std::size_t n =
        LZ4F_compressFrame(frame.data(), frame.size(), input.data(), input.size(), &prefs);
    ASSERT_FALSE(LZ4F_isError(n));
    frame.resize(n);
    auto decoded = Decompress(Codec::kLz4, frame, kMiB);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(decoded.value() == input);
    // The declared content size alone is enough to refuse.
    EXPECT_FALSE(Decompress(Codec::kLz4, frame, input.size() - 1).ok());
  }
}

TEST(CompressionTest, Lz4WrittenFrameDeclaresIndependentBlocks) {
  const std::string frame = MustCompress(Codec::kLz4, "abc");
  ASSERT_GE(frame.size(), 6u);
  EXPECT_EQ(frame.substr(0, 4), std::string("\x04\x22\x4d\x18", 4));  // LZ4 frame magic
  const auto flags = static_cast<std::uint8_t>(frame[4]);
  EXPECT_EQ(flags >> 6, 1);          // version 1
  EXPECT_NE(flags & 0x20, 0);        // block independence
  EXPECT_EQ(flags & 0x08, 0);        // no content size: Kafka's Java reader predates it
}

// Streaming zstd writers (Java's zstd-jni as Kafka uses it) leave the content size out.
TEST(CompressionTest, ZstdFrameWithoutContentSizeDecodesWithinTheLimit) {
  const std::string input = CompressibleBytes(500000);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ASSERT_NE(cctx, nullptr);
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
  std::string frame(ZSTD_compressBound(input.size()), '\0');
  const std::size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), input.data(),
                                       input.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);

  auto decoded = Decompress(Codec::kZstd, frame, input.size());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.value() == input);
  EXPECT_FALSE(Decompress(Codec::kZstd, frame, input.size() - 1).ok());
  EXPECT_FALSE(Decompress(Codec::kZstd, frame, 1000).ok());
}

TEST(CompressionTest, ZstdConcatenatedFramesDecodeAsOneStream) {
  const std::string a = CompressibleBytes(3000);
  const std::string b = RandomBytes(3000, 8);
  auto decoded = Decompress(Codec::kZstd, MustCompress(Codec::kZstd, a) +
                                              MustCompress(Codec::kZstd, b), kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded.value() == a + b);
}

TEST(CompressionTest, NoneCodecRespectsTheLimit) {
  EXPECT_TRUE(Decompress(Codec::kNone, "abcd", 4).ok());
  EXPECT_FALSE(Decompress(Codec::kNone, "abcd", 3).ok());
}

}  // namespace
}  // namespace tern::kafka
