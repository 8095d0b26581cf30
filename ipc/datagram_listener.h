// Datagram listeners: the Unix datagram socket and UDP. One JSON value (a
// span or an array of spans) per datagram; no answers.
//
// Reading drains the socket with recvmmsg(2) (up to `messages_per_call`
// datagrams per system call) whenever it is readable, decodes every datagram
// and hands one batch per drain to the store. While more than
// max_inflight_bytes wait for the store, reading pauses: the kernel queue then
// fills, which blocks Unix datagram senders and makes the kernel drop UDP
// datagrams (counted from SO_RXQ_OVFL).
//
// Threading: a listener reads with `lanes` readers, each on its own strand of
// the shared io_context and its own dup of the socket, so that several threads
// can receive and decode at once (the kernel hands each datagram to one
// reader). Datagrams carry no order, so none is lost by this.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "ipc/ingest.h"

namespace spanvault::ipc {

struct DatagramOptions {
  span::Transport transport = span::Transport::kUdp;
  // Default: 64 KiB on UDP, 256 KiB on the Unix datagram socket.
  size_t max_datagram_bytes = 64u << 10;
  // Default: 32 datagrams per recvmmsg call.
  size_t messages_per_call = 32;
  // Default: 16 MiB per lane.
  size_t max_inflight_bytes = 16u << 20;
  // Default: 2. Concurrent readers of the socket.
  size_t lanes = 2;
};

class DatagramListener {
 public:
  // Takes ownership of `fd`, a bound datagram socket (SO_PASSCRED set for Unix
  // sockets, SO_RXQ_OVFL for UDP).
  DatagramListener(boost::asio::io_context& ioc, int fd, DatagramOptions options, span::Limits limits, SubmitFn submit,
                   Counters& counters);
  ~DatagramListener();
  void Start();
  void Stop();

 private:
  class Impl;
  std::vector<std::shared_ptr<Impl>> lanes_;
};

}  // namespace spanvault::ipc
