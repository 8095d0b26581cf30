// CRC-32C for RocksDB's write-ahead log in hardware.
//
// Debian builds librocksdb portably (no -msse4.2), so its crc32c::Extend
// computes every WAL record's checksum with a table in software, a large part
// of the writer thread's time at full ingest (docs/performance.md). RocksDB is linked statically and calls Extend from
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

// The crc32 instruction has a latency of three cycles but takes a new one
// every cycle, so one dependency chain runs at a third of its speed. Long
// runs are cut into three lanes of kLane bytes, checksummed side by side, and
// joined: a CRC without its pre- and post-inversion is linear, so the state
// after A|B|C is Shift2L(state after A) ^ ShiftL(B's CRC from 0) ^ C's CRC
// from 0, where ShiftN is the effect of N zero bytes on a state. At full
// ingest the WAL's checksums were ~3% of the daemon's CPU with one chain.
constexpr size_t kLane = 256;

// ShiftN as four byte tables: the state is linear in its bits, so the
// effect on a state is the XOR of the effects on each of its bytes.
struct ShiftTable {
  uint32_t t[4][256];
  uint32_t operator()(uint32_t v) const {
    return t[0][v & 0xff] ^ t[1][(v >> 8) & 0xff] ^ t[2][(v >> 16) & 0xff] ^ t[3][v >> 24];
  }
};

__attribute__((target("sse4.2"))) ShiftTable MakeShiftTable(size_t zero_bytes) {
  ShiftTable s;
  for (int i = 0; i < 4; ++i) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint64_t c = b << (8 * i);
      for (size_t k = 0; k < zero_bytes / 8; ++k) c = _mm_crc32_u64(c, 0);
      s.t[i][b] = static_cast<uint32_t>(c);
    }
  }
  return s;
}

struct LaneShifts {
  ShiftTable one = MakeShiftTable(kLane);
  ShiftTable two = MakeShiftTable(2 * kLane);
};

__attribute__((target("sse4.2"))) uint32_t HwExtend(uint32_t crc, const char* p, size_t n) {
  uint64_t c = static_cast<uint32_t>(~crc);
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), static_cast<uint8_t>(*p++));
    --n;
  }
  if (n >= 3 * kLane) {
    static const LaneShifts shifts;  // built on first use (8 KiB)
    do {
      uint64_t c1 = 0, c2 = 0;
      for (size_t i = 0; i < kLane; i += 8) {
        uint64_t w0, w1, w2;
        std::memcpy(&w0, p + i, 8);
        std::memcpy(&w1, p + kLane + i, 8);
        std::memcpy(&w2, p + 2 * kLane + i, 8);
        c = _mm_crc32_u64(c, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
      }
      c = shifts.two(static_cast<uint32_t>(c)) ^ shifts.one(static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
      p += 3 * kLane;
      n -= 3 * kLane;
    } while (n >= 3 * kLane);
  }
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
