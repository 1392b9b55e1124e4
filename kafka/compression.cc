#include "kafka/compression.h"

#define ZLIB_CONST
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <utility>
#include <vector>

#include "kafka/wire.h"

namespace tern::kafka {
namespace {

constexpr std::size_t kMinAllocation = 4096;

// Java clients' snappy framing starts with this magic, then a big-endian int32 version and an
// int32 compatible version, then blocks. A raw snappy stream can never start with it: the
// varint length (0x82 0x53) is followed by 'N', the tag of a copy whose offset points before
// the start of the output, which is invalid at the first position.
constexpr std::string_view kXerialMagic("\x82SNAPPY\0", 8);
constexpr std::size_t kXerialHeaderSize = 16;

Status LimitExceeded(Codec codec, std::size_t limit) {
  return Status::InvalidArgument(std::string(CodecName(codec)) +
                                 ": decoded size exceeds the limit of " + std::to_string(limit) +
                                 " bytes");
}

Status Malformed(Codec codec, std::string_view what) {
  return Status::InvalidArgument(std::string(CodecName(codec)) + ": " + std::string(what));
}

// Decoded output that grows toward a hard limit. Storage grows either by at least doubling or
// into a fresh exact-size allocation, so the allocator's slack never carries it past the limit.
// At the limit, space() hands out one byte of scratch instead: a streaming decoder that writes
// there shows there is more output, which tells "exactly at the limit" from "over it".
class BoundedOutput {
 public:
  BoundedOutput(std::size_t limit, std::size_t first_allocation_hint)
      : limit_(limit), hint_(std::max(first_allocation_hint, kMinAllocation)) {}

  // Where the decoder may write next, and how much; never empty.
  char* space() {
    if (used_ == buf_.size()) Grow();
    return used_ < buf_.size() ? buf_.data() + used_ : &scratch_;
  }
  std::size_t space_size() {
    if (used_ == buf_.size()) Grow();
    return used_ < buf_.size() ? buf_.size() - used_ : 1;
  }

  // Records that the decoder wrote `n` bytes at space().
  void Commit(std::size_t n) {
    if (used_ < buf_.size()) {
      used_ += n;
    } else if (n > 0) {
      overflowed_ = true;
    }
  }

  bool overflowed() const { return overflowed_; }

  std::string Take() {
    buf_.resize(used_);
    return std::move(buf_);
  }

 private:
  void Grow() {
    const std::size_t target =
        std::min(limit_, buf_.empty() ? hint_ : std::max(buf_.size() * 2, kMinAllocation));
    if (target <= buf_.size()) return;
    if (target > buf_.capacity() && target < 2 * buf_.capacity()) {
      // std::string would round this growth up to double its capacity.
      std::string fresh;
      fresh.reserve(target);
      fresh.assign(buf_, 0, used_);
      buf_.swap(fresh);
    }
    buf_.resize(target);
  }

  std::size_t limit_;
  std::size_t hint_;
  std::string buf_;  // [0, used_) is decoded output; the rest is room for more
  std::size_t used_ = 0;
  char scratch_ = 0;
  bool overflowed_ = false;
};

// zlib counts in uInt; longer spans are fed in pieces.
uInt ZlibChunk(std::size_t n) { return static_cast<uInt>(std::min<std::size_t>(n, UINT_MAX)); }

Result<std::string> GzipDecompress(std::string_view input, std::size_t limit) {
  z_stream zs{};
  // 15 + 32: the largest window, and a gzip or zlib header detected from the input.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("gzip: inflateInit2 failed");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&zs, inflateEnd);

  BoundedOutput out(limit, input.size() * 4);
  const auto* next = reinterpret_cast<const Bytef*>(input.data());
  std::size_t left = input.size();
  for (;;) {
    const uInt in_chunk = ZlibChunk(left);
    const uInt out_chunk = ZlibChunk(out.space_size());
    zs.next_in = next;
    zs.avail_in = in_chunk;
    zs.next_out = reinterpret_cast<Bytef*>(out.space());
    zs.avail_out = out_chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    next += in_chunk - zs.avail_in;
    left -= in_chunk - zs.avail_in;
    out.Commit(out_chunk - zs.avail_out);
    if (out.overflowed()) return LimitExceeded(Codec::kGzip, limit);

    if (rc == Z_STREAM_END) {
      if (left == 0) return out.Take();
      // Concatenated gzip members form one stream, as gzip(1) reads them.
      if (left >= 2 && next[0] == 0x1f && next[1] == 0x8b && inflateReset(&zs) == Z_OK) continue;
      return Malformed(Codec::kGzip, "bytes after the end of the stream");
    }
    // There is always output space, so Z_BUF_ERROR means the input ran out mid-stream.
    if (rc == Z_BUF_ERROR) return Malformed(Codec::kGzip, "input ends early");
    if (rc != Z_OK) {
      return Malformed(Codec::kGzip, zs.msg != nullptr ? zs.msg : "corrupt stream");
    }
  }
}

Result<std::string> GzipCompress(std::string_view input) {
  z_stream zs{};
  // 15 + 16: the largest window, with a gzip header and trailer.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Status::Internal("gzip: deflateInit2 failed");
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&zs, deflateEnd);

  std::string out(deflateBound(&zs, input.size()), '\0');
  std::size_t produced = 0;
  const auto* next = reinterpret_cast<const Bytef*>(input.data());
  std::size_t left = input.size();
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const uInt in_chunk = ZlibChunk(left);
    const uInt out_chunk = ZlibChunk(out.size() - produced);
    zs.next_in = next;
    zs.avail_in = in_chunk;
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = out_chunk;
    const int rc = deflate(&zs, in_chunk == left ? Z_FINISH : Z_NO_FLUSH);
    next += in_chunk - zs.avail_in;
    left -= in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Status::Internal("gzip: deflate failed");
  }
  out.resize(produced);
  return out;
}

// One raw snappy block decoded into `out`, which must hold exactly its declared length.
bool SnappyRawInto(std::string_view block, char* out) {
  return snappy::RawUncompress(block.data(), block.size(), out);
}

Result<std::string> SnappyRawDecompress(std::string_view input, std::size_t limit) {
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(input.data(), input.size(), &length)) {
    return Malformed(Codec::kSnappy, "malformed block length");
  }
  if (length > limit) return LimitExceeded(Codec::kSnappy, limit);
  std::string out(length, '\0');
  if (!SnappyRawInto(input, out.data())) return Malformed(Codec::kSnappy, "corrupt block");
  return out;
}

Result<std::string> SnappyXerialDecompress(std::string_view input, std::size_t limit) {
  if (input.size() < kXerialHeaderSize) {
    return Malformed(Codec::kSnappy, "xerial header ends early");
  }
  const std::string_view blocks = input.substr(kXerialHeaderSize);

  // Check the framing and add up the declared lengths first, so the output is allocated once,
  // and only if it fits.
  std::vector<std::pair<std::string_view, std::size_t>> parts;  // block, decoded length
  std::size_t total = 0;
  Reader r(blocks);
  while (r.remaining() > 0) {
    std::int32_t size = 0;
    std::string_view block;
    if (!r.ReadInt32(&size)) break;
    if (size < 0) return Malformed(Codec::kSnappy, "negative xerial block length");
    if (!r.ReadRaw(static_cast<std::size_t>(size), &block)) break;
    std::size_t length = 0;
    if (!snappy::GetUncompressedLength(block.data(), block.size(), &length)) {
      return Malformed(Codec::kSnappy, "malformed block length in xerial block");
    }
    if (length > limit - total) return LimitExceeded(Codec::kSnappy, limit);
    total += length;
    parts.emplace_back(block, length);
  }
  if (!r.ok()) return Malformed(Codec::kSnappy, "xerial block ends early");

  std::string out(total, '\0');
  std::size_t pos = 0;
  for (const auto& [block, length] : parts) {
    if (!SnappyRawInto(block, out.data() + pos)) {
      return Malformed(Codec::kSnappy, "corrupt xerial block");
    }
    pos += length;
  }
  return out;
}

Result<std::string> SnappyDecompress(std::string_view input, std::size_t limit) {
  if (input.substr(0, kXerialMagic.size()) == kXerialMagic) {
    return SnappyXerialDecompress(input, limit);
  }
  return SnappyRawDecompress(input, limit);
}

Result<std::string> SnappyCompress(std::string_view input) {
  // The block header stores the length as a 32-bit varint.
  if (input.size() > UINT32_MAX) return Malformed(Codec::kSnappy, "input longer than 4 GiB");
  std::string out;
  snappy::Compress(input.data(), input.size(), &out);
  return out;
}

Result<std::string> Lz4Decompress(std::string_view input, std::size_t limit) {
  LZ4F_dctx* raw_dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_dctx, LZ4F_VERSION))) {
    return Status::Internal("lz4: cannot create a decompression context");
  }
  const std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(
      raw_dctx, LZ4F_freeDecompressionContext);

  const char* next = input.data();
  std::size_t left = input.size();
  std::size_t hint = input.size() * 4;
  LZ4F_frameInfo_t info{};
  std::size_t header_size = left;
  const std::size_t header_rc = LZ4F_getFrameInfo(dctx.get(), &info, next, &header_size);
  if (LZ4F_isError(header_rc)) {
    return Malformed(Codec::kLz4, std::string("frame header: ") + LZ4F_getErrorName(header_rc));
  }
  next += header_size;
  left -= header_size;
  // A declared content size is checked by the decoder at the end of the frame; until then it
  // is only a claim, good for rejecting early and for sizing the first allocation.
  if (info.contentSize > limit) return LimitExceeded(Codec::kLz4, limit);
  if (info.contentSize != 0) hint = static_cast<std::size_t>(info.contentSize);

  BoundedOutput out(limit, hint);
  for (;;) {
    std::size_t out_size = out.space_size();
    std::size_t in_size = left;
    const std::size_t rc =
        LZ4F_decompress(dctx.get(), out.space(), &out_size, next, &in_size, nullptr);
    if (LZ4F_isError(rc)) return Malformed(Codec::kLz4, LZ4F_getErrorName(rc));
    next += in_size;
    left -= in_size;
    out.Commit(out_size);
    if (out.overflowed()) return LimitExceeded(Codec::kLz4, limit);
    if (rc == 0) {
      if (left != 0) return Malformed(Codec::kLz4, "bytes after the end of the frame");
      return out.Take();
    }
    if (in_size == 0 && out_size == 0) {
      return Malformed(Codec::kLz4, left == 0 ? "input ends early" : "decoder made no progress");
    }
  }
}

Result<std::string> Lz4Compress(std::string_view input) {
  // What Kafka's Java producer writes: independent 64 KiB blocks, no content size or checksum
  // flags, so every Kafka reader accepts the frame.
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  std::string out(LZ4F_compressFrameBound(input.size(), &prefs), '\0');
  const std::size_t n =
      LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) return Status::Internal(std::string("lz4: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> ZstdDecompress(std::string_view input, std::size_t limit) {
  const unsigned long long declared = ZSTD_getFrameContentSize(input.data(), input.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Malformed(Codec::kZstd, "bad frame header");
  std::size_t hint = input.size() * 4;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    // Only the first frame's claim, and verified by the decoder; see Lz4Decompress.
    if (declared > limit) return LimitExceeded(Codec::kZstd, limit);
    hint = static_cast<std::size_t>(declared);
  }

  const std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                    ZSTD_freeDCtx);
  if (dctx == nullptr) return Status::Internal("zstd: cannot create a decompression context");

  BoundedOutput out(limit, hint);
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  for (;;) {
    ZSTD_outBuffer dst{out.space(), out.space_size(), 0};
    const std::size_t in_before = in.pos;
    const std::size_t rc = ZSTD_decompressStream(dctx.get(), &dst, &in);
    if (ZSTD_isError(rc)) return Malformed(Codec::kZstd, ZSTD_getErrorName(rc));
    out.Commit(dst.pos);
    if (out.overflowed()) return LimitExceeded(Codec::kZstd, limit);
    // 0: a frame is complete and flushed. More input means another frame follows.
    if (rc == 0 && in.pos == in.size) return out.Take();
    if (dst.pos == 0 && in.pos == in_before) {
      return Malformed(Codec::kZstd,
                       in.pos == in.size ? "input ends early" : "decoder made no progress");
    }
  }
}

Result<std::string> ZstdCompress(std::string_view input) {
  std::string out(ZSTD_compressBound(input.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(), 3);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Status UnknownCodec(Codec codec) {
  return Status::Unsupported("unknown compression codec " +
                             std::to_string(static_cast<int>(codec)));
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone: return "none";
    case Codec::kGzip: return "gzip";
    case Codec::kSnappy: return "snappy";
    case Codec::kLz4: return "lz4";
    case Codec::kZstd: return "zstd";
  }
  return "unknown";
}

Result<std::string> Decompress(Codec codec, std::string_view input,
                               std::size_t max_output_bytes) {
  switch (codec) {
    case Codec::kNone:
      if (input.size() > max_output_bytes) return LimitExceeded(codec, max_output_bytes);
      return std::string(input);
    case Codec::kGzip: return GzipDecompress(input, max_output_bytes);
    case Codec::kSnappy: return SnappyDecompress(input, max_output_bytes);
    case Codec::kLz4: return Lz4Decompress(input, max_output_bytes);
    case Codec::kZstd: return ZstdDecompress(input, max_output_bytes);
  }
  return UnknownCodec(codec);
}

Result<std::string> Compress(Codec codec, std::string_view input) {
  switch (codec) {
    case Codec::kNone: return std::string(input);
    case Codec::kGzip: return GzipCompress(input);
    case Codec::kSnappy: return SnappyCompress(input);
    case Codec::kLz4: return Lz4Compress(input);
    case Codec::kZstd: return ZstdCompress(input);
  }
  return UnknownCodec(codec);
}

}  // namespace tern::kafka
