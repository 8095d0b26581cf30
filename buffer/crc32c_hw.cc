// CRC-32C for RocksDB's write-ahead log in hardware.
//
// Debian builds librocksdb portably (no -msse4.2), so its crc32c::Extend
// computes every WAL record's checksum with a table in software: on this
// daemon's ingest path that was a fifth of a core at 160,000 spans/s, a third
// of the writer thread. RocksDB is linked statically and calls Extend from
// its other objects through an undefined symbol, so the link (CMakeLists.txt,
// sv_buffer) passes --wrap for it: those calls land here. On a CPU with
// SSE4.2 this computes the same CRC-32C (Castagnoli) with the crc32
// instruction; elsewhere it calls RocksDB's own code (__real_). The result
// is bit-for-bit RocksDB's (tests/buffer/crc32c_test.cc), so the stores stay
// readable by any RocksDB tool.
#include <nmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "buffer/store_format.h"

// rocksdb::crc32c::Extend(uint32_t, const char*, size_t), mangled.
extern "C" uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);
extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);

namespace spanvault::buffer::internal {
namespace {

__attribute__((target("sse4.2"))) uint32_t HwExtend(uint32_t crc, const char* p, size_t n) {
  uint64_t c = static_cast<uint32_t>(~crc);
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  // One dependency chain: 8 bytes per ~3 cycles, several GB/s, dozens of
  // times what the WAL writes; not worth interleaving chains.
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  return ~static_cast<uint32_t>(c);
}

bool DetectHardware() {
  __builtin_cpu_init();  // this may run before libgcc's own initialiser
  return __builtin_cpu_supports("sse4.2");
}

// False until set (static initialisation order): a call before then takes
// RocksDB's code, which gives the same result.
const bool kHardware = DetectHardware();

}  // namespace

const char* Crc32cImplementation() { return kHardware ? "sse4.2" : "rocksdb-portable"; }

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n) {
  return kHardware ? HwExtend(crc, data, n) : __real__ZN7rocksdb6crc32c6ExtendEjPKcm(crc, data, n);
}

uint32_t Crc32cExtendRocksDb(uint32_t crc, const char* data, size_t n) {
  return __real__ZN7rocksdb6crc32c6ExtendEjPKcm(crc, data, n);
}

}  // namespace spanvault::buffer::internal

extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n) {
  return spanvault::buffer::internal::Crc32cExtend(crc, data, n);
}
