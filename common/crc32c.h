// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's magic-2 record
// batches. Uses the SSE4.2 `crc32` instruction when the CPU has it (checked once, at first use)
// and a table-driven fallback otherwise; both give identical results. Pure functions: any
// thread may call them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tern::crc32c {

// Extends `crc` (the value returned for the bytes before) with `n` more bytes. Start from 0;
// Extend(Extend(0, a), b) == Value(a + b).
std::uint32_t Extend(std::uint32_t crc, const void* data, std::size_t n);

inline std::uint32_t Value(const void* data, std::size_t n) { return Extend(0, data, n); }
inline std::uint32_t Value(std::string_view bytes) { return Extend(0, bytes.data(), bytes.size()); }

// The two implementations, exposed so tests can compare them. ExtendHardware REQUIRES
// HardwareAvailable().
std::uint32_t ExtendSoftware(std::uint32_t crc, const void* data, std::size_t n);
std::uint32_t ExtendHardware(std::uint32_t crc, const void* data, std::size_t n);
bool HardwareAvailable();

}  // namespace tern::crc32c
