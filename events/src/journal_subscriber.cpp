#include "isens/events/journal_subscriber.hpp"

#include <stdexcept>
#include <utility>

namespace isens::events {

journal_subscriber::journal_subscriber(std::shared_ptr<event_journal> journal) : journal_(std::move(journal)) {
  if (!journal_) throw std::invalid_argument("journal_subscriber: no journal given");
}

void journal_subscriber::on_event(const event& e) { journal_->append(e); }

// The bus reports a gap before the next event it delivers (or when its queue
// drains), and with an unfiltered subscription the lost events are exactly
// the next `lost` seqs; the journal logs the warning and counts them.
void journal_subscriber::on_gap(std::uint64_t lost) { journal_->record_loss(lost); }

}  // namespace isens::events
