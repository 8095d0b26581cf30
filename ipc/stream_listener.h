// The Unix stream listener: NDJSON, one JSON value per line, many concurrent
// connections, the {"$sync": ID} barrier and other control lines ({"$status":
// true}, {"$prices": ...}) answered by the daemon.
//
// Per connection: bytes are read in chunks; every complete line of a chunk is
// decoded on the spot and the chunk's spans go to the store as one batch.
// A barrier is answered once every batch before it is durable:
//   {"$sync": ID, "accepted": SPANS, "rejected": LINES, "errors": [{"line": L, "reason": "..."}]}
// counting since the previous barrier on that connection, lines counted from 1.
//
// Threading: every connection runs on its own strand of a shared io_context
// (any number of threads). Back-pressure is per connection: a connection stops
// reading while it has more than max_inflight_bytes waiting for the store or
// more than max_pending_output bytes of answers its client has not read, so a
// slow or stuck client never stalls another one; and every connection pauses
// while the daemon's shared in-flight budget (Counters::budget) is spent.
//
// Bounds against hostile peers: a connection holds a read buffer only while
// it has bytes to read or a line in progress (an idle one holds none); one
// with no byte for idle_timeout is closed; connections are capped in total
// and per peer uid (SO_PEERCRED), with a few kept for admin peers so that
// `spanvault status` still gets in; control lines are bounded and parsed
// without recursion (ipc/control_line.h), admin lines answered only to admin
// peers (ipc/peer_cred.h), and every answer is capped in size.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ipc/ingest.h"
#include "ipc/line_channel.h"
#include "ipc/peer_cred.h"

namespace spanvault::ipc {

// The local query API's control lines (docs/api.md, "On the stream
// socket"): $query, $export, $tail, $replay — admin lines (NeedsAdmin). The
// daemon runs them on its query threads; the connection reads no further
// line until one is over, so its answers stay in order.
struct SocketQueryHooks {
  // {"$query": ...} and {"$replay": ...}: called on the connection's strand,
  // must not block; `done` gets the answer line (without '\n') once, from any
  // thread.
  std::function<void(const std::string& key, const nlohmann::json& line, std::function<void(std::string)> done)> answer;
  // {"$export": ...} and {"$tail": ...}: called on the strand, must not
  // block; lines (each ending in '\n') go into `out` from another thread:
  // an export Push'es its rows and its {"$end": ...} line, then Finish; a
  // tail TryPush'es events until `out` closes (the client closed, or did not
  // keep up: max_pending_output).
  std::function<void(const std::string& key, const nlohmann::json& line, std::shared_ptr<LineChannel> out)> stream;
  bool enabled() const { return answer && stream; }
};

struct StreamOptions {
  // Default: 1 MiB. A longer line is refused (too_large) and skipped.
  size_t max_line_bytes = 1u << 20;
  // Default: 256 KiB. Bytes read per read call (one batch per read).
  size_t read_chunk_bytes = 256u << 10;
  // Default: 4 MiB. Decoded bytes per connection not yet durable: one
  // connection alone can still fill a group commit (4 MiB); more did not
  // raise spans/s with 1, 2 or 8 connections and raised peak RSS.
  size_t max_inflight_bytes = 4u << 20;
  // Default: 1 MiB. Unread answers per connection before reading pauses.
  size_t max_pending_output = 1u << 20;
  // Default: false. Barriers ask the store to fsync (durability = machine).
  bool fsync_barriers = false;
  // Default: none. Control lines (by first key) that may block, answered on
  // the listener's own control thread instead of an I/O thread: a reload
  // waits for replaced forwarders, a salvage reads a whole store. The
  // connection that sent one reads no further line until it is answered, so
  // its answers stay in order; every other connection goes on.
  std::vector<std::string> offload_controls;
  // Default: 1024. Further connections are accepted and closed at once
  // (admin peers have admin_reserve more).
  size_t max_connections = 1024;
  // Default: 256. Connections of one peer uid (root and the daemon's uid
  // are not capped).
  size_t max_connections_per_uid = 256;
  // Default: 16. Connections beyond max_connections kept for admin peers.
  size_t admin_reserve = 16;
  // Default: 5 min. A connection that sends no byte for this long is closed
  // (0: never).
  std::chrono::milliseconds idle_timeout{300000};
  // Default: 16 MiB. A control answer larger than this is replaced by an
  // error saying so.
  size_t max_answer_bytes = 16u << 20;
  // Default: the daemon's own uid, no admin group. Who may send admin lines.
  AdminPolicy admin = AdminPolicy::ForThisProcess();
  // Default: 100. Errors listed per barrier answer.
  size_t max_errors_per_answer = 100;
  // Default: none (the query lines are unknown control lines).
  SocketQueryHooks query;
};

// Answers a control line other than $sync: `key` is its first key ("$status",
// "$prices"), `line` the whole parsed line. nullopt: unknown control line.
using ControlFn = std::function<std::optional<std::string>(const std::string& key, const nlohmann::json& line)>;

class StreamListener {
 public:
  // Takes ownership of `fd`, a listening Unix stream socket.
  StreamListener(boost::asio::io_context& ioc, int fd, StreamOptions options, span::Limits limits, SubmitFn submit,
                 Counters& counters, ControlFn control);
  ~StreamListener();

  void Start();
  // Stops accepting and reading. Lines already read are submitted; answers
  // for barriers already seen are still written while the io_context runs.
  void Stop();

  class Impl;  // opaque; public so the connection sessions can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace spanvault::ipc
