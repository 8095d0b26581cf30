#include "span/batch.h"

namespace spanvault::span {

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUnixStream:
      return "unix_stream";
    case Transport::kUnixDatagram:
      return "unix_dgram";
    case Transport::kUdp:
      return "udp";
    case Transport::kHttp:
      return "http";
  }
  return "unknown";
}

std::string_view RejectKindName(RejectKind k) {
  switch (k) {
    case RejectKind::kTooLarge:
      return "too_large";
    case RejectKind::kSyntax:
      return "syntax";
    case RejectKind::kEncoding:
      return "encoding";
    case RejectKind::kDepth:
      return "depth";
    case RejectKind::kSchema:
      return "schema";
    case RejectKind::kFull:
      return "full";
    case RejectKind::kForbidden:
      return "forbidden";
    case RejectKind::kBusy:
      return "busy";
  }
  return "unknown";
}

}  // namespace spanvault::span
