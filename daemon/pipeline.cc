// The ingest pipeline: listeners decode → the pricing stage prices → the
// store makes the batch durable → the forwarders (daemon/forwarders.cc) read
// it back per upstream. This file builds the two middle stages and the one
// function that chains them, which every listener is handed.
#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace spanvault::daemon {

Status BuildPricing(Daemon::Impl& d) {
  auto pricing = cost::PriceStage::Create(d.config.price_tables);
  if (!pricing) return Fail(Error::Invalid("price tables: " + pricing.error().message));
  d.pricing = std::move(*pricing);
  return {};
}

Status OpenStore(Daemon::Impl& d) {
  buffer::Options bo = d.config.buffer;
  bo.dir = d.config.state_dir / "buffer";
  // Each commit wakes the forwarders.
  bo.on_commit = [&d] {
    std::shared_lock lk(d.forwarders_mu);
    for (auto& f : d.forwarders) f.forwarder->Notify();
  };
  // A damaged store moved aside (at start, or later by the writer thread):
  // salvaged in the background into the live queue.
  auto salvage = [&d](const std::filesystem::path& from) {
    std::lock_guard lk(d.salvage_mu);
    d.salvages.push_back(std::make_unique<AutoSalvage>(*d.queue, from));
  };
  bo.on_moved_aside = salvage;
  auto q = buffer::SpanQueue::Open(bo);
  if (!q) return Fail(q.error());
  d.queue = std::move(*q);
  if (std::string from = d.queue->GetStats().store_recovered_from; !from.empty()) salvage(from);
  return {};
}

ipc::SubmitFn IngestPipeline(Daemon::Impl& d) {
  // Runs on the listeners' I/O threads, concurrently: pricing is lock-free
  // per span, and Append only queues the batch for the store's writer thread.
  return [price = d.pricing.get(), queue = d.queue.get()](span::Batch&& batch, bool fsync, ipc::SubmitDone done) {
    price->Apply(batch);
    queue->Append(std::move(batch), fsync, std::move(done));
  };
}

}  // namespace spanvault::daemon
