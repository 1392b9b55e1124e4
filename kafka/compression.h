// The compression codecs of Kafka record batches (attributes bits 0-2), in the byte formats
// Kafka's clients write: gzip, snappy (raw blocks as librdkafka writes them, or the "xerial"
// framing of Java clients), lz4 (the standard LZ4 frame format) and zstd (standard frames).
//
// Decompress treats its input as untrusted: malformed or truncated input yields an error
// Status, never a crash or an out-of-bounds read, and the decoded output never grows past the
// caller's limit, so a small "decompression bomb" costs at most that many bytes. Codec working
// memory is bounded by each library's own format limits (lz4 blocks of at most 4 MiB, zstd
// windows of at most 2^27 bytes, zstd's default ceiling).
//
// Free functions without shared state: any thread may call them concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::kafka {

// A record batch's compression codec, as stored in bits 0-2 of its attributes.
enum class Codec : std::int8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd", or "unknown" for a value outside the enum.
std::string_view CodecName(Codec codec);

// Decodes `input` compressed with `codec`. Success: the decoded bytes, at most
// `max_output_bytes` of them. Failure: InvalidArgument when the input is malformed or
// truncated or would decode to more than `max_output_bytes`; Unsupported for a codec value
// outside the enum. Snappy input may be raw or xerial-framed (detected by its magic); gzip input
// may carry a gzip or a zlib header, and concatenated gzip members decode as one stream.
Result<std::string> Decompress(Codec codec, std::string_view input, std::size_t max_output_bytes);

// Encodes `input` the way Kafka clients do: a gzip stream, raw snappy (as librdkafka writes
// it), one LZ4 frame of independent 64 KiB blocks, or one zstd frame at level 3. kNone returns
// the input. Fails (InvalidArgument) only for inputs the format cannot hold (snappy above
// 4 GiB) and Unsupported for a codec value outside the enum.
Result<std::string> Compress(Codec codec, std::string_view input);

}  // namespace tern::kafka
