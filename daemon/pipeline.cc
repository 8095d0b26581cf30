// The ingest pipeline: listeners decode → the pricing stage prices → the
// ingest processors (top-level `processors`) → the keep stage marks the
// traces sample.keep conditions match → the store makes the batch durable →
// the forwarders (daemon/forwarders.cc) read it back per upstream. This file
// builds the middle stages and the one function that chains them, which
// every listener is handed.
#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace spanvault::daemon {

Status BuildPricing(Daemon::Impl& d) {
  auto pricing = cost::PriceStage::Create(d.config.price_tables);
  if (!pricing) return Fail(Error::Invalid("price tables: " + pricing.error().message));
  d.pricing = std::move(*pricing);
  return {};
}

std::vector<std::string> UsedProcessors(const Config& c) {
  std::vector<std::string> used;
  for (const auto& u : c.upstreams) used.insert(used.end(), u.processors.begin(), u.processors.end());
  return used;
}

Status BuildProcessing(Daemon::Impl& d) {
  d.ingest_processing = std::make_unique<process::IngestStage>();
  if (Status st = d.ingest_processing->Update(d.config.processor_defs, d.config.processors); !st) {
    return Fail(Error::Invalid("processors: " + st.error().message));
  }
  d.keep_stage = std::make_unique<process::KeepStage>(d.keep_set);
  return d.keep_stage->Update(d.config.processor_defs, UsedProcessors(d.config));
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
  // Ingest processors (top-level `processors`) may rewrite or drop spans;
  // the keep stage only marks traces (sample.keep). Dropped spans count as
  // stored for the sender: they were received and handled by policy.
  return [price = d.pricing.get(), processing = d.ingest_processing.get(), keep = d.keep_stage.get(),
          queue = d.queue.get()](span::Batch&& batch, bool fsync, ipc::SubmitDone done) {
    price->Apply(batch);
    const uint32_t dropped = processing->Apply(batch);
    keep->Apply(batch);
    if (dropped == 0) {
      queue->Append(std::move(batch), fsync, std::move(done));
      return;
    }
    queue->Append(std::move(batch), fsync, [dropped, done = std::move(done)](const span::StoreResult& r) {
      span::StoreResult with = r;
      if (r.ok) with.stored += dropped;
      done(with);
    });
  };
}

}  // namespace spanvault::daemon
