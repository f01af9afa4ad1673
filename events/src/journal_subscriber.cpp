#include "isens/events/journal_subscriber.hpp"

#include <stdexcept>
#include <utility>

namespace isens::events {

journal_subscriber::journal_subscriber(std::shared_ptr<event_journal> journal) : journal_(std::move(journal)) {
  if (!journal_) throw std::invalid_argument("journal_subscriber: no journal given");
}

journal_subscriber::~journal_subscriber() {
  try {
    if (!kept_.empty()) journal_->append(kept_);
  } catch (...) {  // logging failed; the journal counted what it could not write
  }
}

void journal_subscriber::on_event(const event& e) { kept_.emplace_back(e); }

void journal_subscriber::append_kept() {
  if (kept_.empty()) return;
  // Cleared even if journaled() throws: these seqs must not be offered twice.
  struct clear_after {
    std::vector<journal_record>& kept;
    ~clear_after() { kept.clear(); }
  } clear{kept_};
  journal_->append(kept_);
  journaled(kept_);
}

void journal_subscriber::on_batch_end() { append_kept(); }

// The bus reports a gap before the next event it delivers (or when its queue
// drains), and with an unfiltered subscription the lost events are exactly
// the next `lost` seqs; the journal logs the warning and counts them.
void journal_subscriber::on_gap(std::uint64_t lost) {
  append_kept();
  journal_->record_loss(lost);
}

}  // namespace isens::events
