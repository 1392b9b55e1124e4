// Big-endian load and store of fixed-size integers, the byte order of Kafka's wire format and
// of its index files. Pure helpers for the wire codec and the storage files; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

namespace tern {

template <typename T>
T LoadBigEndian(const char* p) {
  using U = std::make_unsigned_t<T>;
  U v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v = static_cast<U>((v << 8) | static_cast<std::uint8_t>(p[i]));
  }
  return static_cast<T>(v);
}

template <typename T>
void StoreBigEndian(std::string& out, T value) {
  using U = std::make_unsigned_t<T>;
  const U v = static_cast<U>(value);
  for (std::size_t i = sizeof(T); i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace tern
