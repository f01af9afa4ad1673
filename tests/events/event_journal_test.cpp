#include "isens/events/event_journal.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/events/event_json.hpp"
#include "isens/events/journal_subscriber.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace isens::events;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards, so tests can run in parallel.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "isens-journal-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

event make_event(std::uint64_t seq) {
  event e;
  e.seq = seq;
  e.boot_id = "boot-a";
  e.timestamp = std::chrono::system_clock::now();
  e.kind = event_kind::session_disconnect;
  e.reason = event_reason::peer_closed;
  e.session_id = 7;
  e.target = "iqn.2026-01.test:disk" + std::to_string(seq);
  return e;
}

journal_options options_for(const fs::path& dir, std::size_t max_events = 1000, std::size_t segment_events = 100) {
  journal_options o;
  o.directory = dir / "journal";
  o.max_events = max_events;
  o.segment_events = segment_events;
  return o;
}

std::vector<std::uint64_t> seqs_of(const journal_batch& batch) {
  std::vector<std::uint64_t> out;
  for (const auto& e : batch.events) out.push_back(e.seq);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path());
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    // events-<seq>.jsonl: order by the number, not the text
    const auto num = [](const fs::path& p) { return std::stoull(p.stem().string().substr(7)); };
    return num(a) < num(b);
  });
  return out;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace

TEST_CASE("journal: appended events read back in order from any seq", "[journal]") {
  temp_dir tmp;
  event_journal journal(options_for(tmp.path()));
  CHECK(journal.last_seq() == 0);
  CHECK(journal.first_seq() == 0);
  CHECK(fs::status(journal.directory()).permissions() == fs::perms::owner_all);

  for (std::uint64_t s = 1; s <= 250; ++s) REQUIRE(journal.append(make_event(s)));
  CHECK(journal.last_seq() == 250);
  CHECK(journal.first_seq() == 1);
  CHECK(journal.stats().segments == 3);

  const auto all = journal.read_since(0, 1000);
  CHECK_FALSE(all.gap);
  CHECK(seqs_of(all) == range(1, 250));
  CHECK(all.next_after == 250);
  CHECK(all.events[41].target == "iqn.2026-01.test:disk42");
  CHECK(all.events[41].kind == event_kind::session_disconnect);
  CHECK(all.events[41].boot_id == "boot-a");

  const auto page = journal.read_since(95, 10);  // crosses into the second segment
  CHECK(seqs_of(page) == range(96, 105));
  CHECK(page.next_after == 105);
  CHECK_FALSE(page.gap);

  const auto caught_up = journal.read_since(250, 10);
  CHECK(caught_up.events.empty());
  CHECK_FALSE(caught_up.gap);
  CHECK(caught_up.next_after == 250);

  CHECK_FALSE(journal.append(make_event(250)));  // seq must increase
  CHECK(journal.stats().out_of_order == 1);
  CHECK(journal.stats().appended == 250);
}

TEST_CASE("journal: a reader passing back each batch's position reads every event once, across segments",
          "[journal]") {
  temp_dir tmp;
  event_journal journal(options_for(tmp.path(), 1000, 100));
  for (std::uint64_t s = 1; s <= 250; ++s) REQUIRE(journal.append(make_event(s)));

  // Pages of 7 cross segment ends at odd places; each read goes on from the
  // last one's position instead of reading its segment from the start.
  std::vector<std::uint64_t> seen;
  journal_batch page;
  std::uint64_t after = 0;
  do {
    page = journal.read_since(after, 7, page.position);
    CHECK_FALSE(page.gap);
    CHECK(page.position.after_seq == page.next_after);
    for (const auto& e : page.events) seen.push_back(e.seq);
    after = page.next_after;
  } while (!page.events.empty());
  CHECK(seen == range(1, 250));

  // Events appended after the reader caught up are found from its position.
  for (std::uint64_t s = 251; s <= 260; ++s) REQUIRE(journal.append(make_event(s)));
  CHECK(seqs_of(journal.read_since(after, 100, page.position)) == range(251, 260));

  // A position for another seq is ignored, never trusted.
  const auto from_100 = journal.read_since(100, 5);
  CHECK(seqs_of(journal.read_since(40, 3, from_100.position)) == range(41, 43));
  // Nor is one whose offset lies past its segment's end.
  auto beyond = from_100.position;
  beyond.offset = 1u << 30;
  CHECK(seqs_of(journal.read_since(105, 3, beyond)) == range(106, 108));
}

TEST_CASE("journal: read_records_since gives each event with the very line stored for it", "[journal]") {
  temp_dir tmp;
  event_journal journal(options_for(tmp.path(), 1000, 100));
  for (std::uint64_t s = 1; s <= 150; ++s) REQUIRE(journal.append(make_event(s)));
  std::string files;
  for (const auto& f : segment_files(journal.directory())) files += read_text(f);

  const auto batch = journal.read_records_since(20, 100);
  REQUIRE(batch.records.size() == 100);
  CHECK(batch.next_after == 120);
  CHECK_FALSE(batch.gap);
  std::string lines;
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    const auto& r = batch.records[i];
    CHECK(r.ev.seq == 21 + i);
    CHECK(r.stored);
    CHECK(r.line == to_json_line(r.ev) + "\n");
    lines += r.line;
  }
  CHECK(files.find(lines) != std::string::npos);  // byte for byte, in order
  // It goes on from its position like read_since.
  const auto rest = journal.read_records_since(batch.next_after, 100, batch.position);
  REQUIRE(rest.records.size() == 30);
  CHECK(rest.records.front().ev.seq == 121);
  CHECK(rest.records.back().ev.seq == 150);
}

TEST_CASE("journal: a position into a segment rotated away reads on from what is kept, with the gap",
          "[journal]") {
  temp_dir tmp;
  event_journal journal(options_for(tmp.path(), 200, 50));
  for (std::uint64_t s = 1; s <= 120; ++s) REQUIRE(journal.append(make_event(s)));
  const auto first = journal.read_since(0, 30);
  REQUIRE(seqs_of(first) == range(1, 30));
  for (std::uint64_t s = 121; s <= 400; ++s) REQUIRE(journal.append(make_event(s)));  // 1..200 deleted

  const auto next = journal.read_since(first.next_after, 10, first.position);
  CHECK(next.gap);
  CHECK(next.oldest_available == 201);
  CHECK(seqs_of(next) == range(201, 210));
}

TEST_CASE("journal: bounded size drops the oldest segments and reports the gap", "[journal]") {
  temp_dir tmp;
  const auto opts = options_for(tmp.path(), /*max_events=*/10, /*segment_events=*/3);
  event_journal journal(opts);
  for (std::uint64_t s = 1; s <= 20; ++s) REQUIRE(journal.append(make_event(s)));

  // 7 segments written ([1-3] … [19-20]); keeping 11 would exceed 10.
  CHECK(journal.first_seq() == 13);
  CHECK(journal.last_seq() == 20);
  CHECK(journal.stats().events == 8);
  CHECK(segment_files(opts.directory).size() == 3);

  const auto old = journal.read_since(4, 100);
  CHECK(old.gap);
  CHECK(old.oldest_available == 13);
  CHECK(seqs_of(old) == range(13, 20));

  const auto just_in_time = journal.read_since(12, 100);
  CHECK_FALSE(just_in_time.gap);
  CHECK(seqs_of(just_in_time) == range(13, 20));
}

TEST_CASE("journal: reopening continues where it stopped, losses included", "[journal]") {
  temp_dir tmp;
  const auto opts = options_for(tmp.path(), 100, 2);
  {
    event_journal journal(opts);
    for (std::uint64_t s = 1; s <= 5; ++s) REQUIRE(journal.append(make_event(s)));
  }
  {
    event_journal journal(opts);
    CHECK(journal.last_seq() == 5);
    CHECK(journal.first_seq() == 1);
    REQUIRE(journal.append(make_event(6)));
    CHECK(seqs_of(journal.read_since(4, 10)) == std::vector<std::uint64_t>{5, 6});
    journal.record_loss(3);  // seqs 7..9 never arrived
    CHECK(journal.last_seq() == 9);
    CHECK(journal.stats().lost == 3);
  }
  event_journal journal(opts);
  CHECK(journal.last_seq() == 9);  // the bus must not hand out 7..9 again
  const auto across = journal.read_since(6, 10);
  CHECK(across.events.empty());
  CHECK(across.gap);
  CHECK(across.next_after == 9);
  REQUIRE(journal.append(make_event(10)));
  const auto after = journal.read_since(9, 10);
  CHECK(seqs_of(after) == std::vector<std::uint64_t>{10});
  CHECK_FALSE(after.gap);
  CHECK(journal.read_since(5, 10).gap);
  CHECK(seqs_of(journal.read_since(0, 100)) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 10});
}

TEST_CASE("journal: a torn last line is dropped on reopen and appends continue", "[journal]") {
  temp_dir tmp;
  const auto opts = options_for(tmp.path(), 100, 10);
  {
    event_journal journal(opts);
    for (std::uint64_t s = 1; s <= 5; ++s) REQUIRE(journal.append(make_event(s)));
  }
  const auto files = segment_files(opts.directory);
  REQUIRE(files.size() == 1);
  const auto line = to_json_line(make_event(6));
  {
    std::ofstream out(files.back(), std::ios::binary | std::ios::app);
    out << line.substr(0, line.size() / 2);  // the crash hit mid-write
  }

  event_journal journal(opts);
  CHECK(journal.stats().torn_lines == 1);
  CHECK(journal.stats().corrupt_lines == 0);
  CHECK(journal.last_seq() == 5);
  REQUIRE(journal.append(make_event(6)));
  journal.flush();
  const auto batch = journal.read_since(0, 100);
  CHECK(seqs_of(batch) == range(1, 6));
  CHECK_FALSE(batch.gap);

  // Every line on disk is whole again: the fragment was cut, not glued to.
  std::istringstream text(read_text(files.back()));
  std::size_t lines = 0;
  for (std::string l; std::getline(text, l); ++lines) CHECK_NOTHROW(parse_event_json(l));
  CHECK(lines == 6);
}

TEST_CASE("journal: a corrupt line in the middle is skipped, counted and reported as a gap", "[journal]") {
  temp_dir tmp;
  const auto opts = options_for(tmp.path(), 100, 10);
  {
    event_journal journal(opts);
    for (std::uint64_t s = 1; s <= 4; ++s) REQUIRE(journal.append(make_event(s)));
  }
  const auto file = segment_files(opts.directory).front();
  auto text = read_text(file);
  const auto second = text.find('\n') + 1;
  const auto third = text.find('\n', second) + 1;
  text.replace(second, third - second, std::string("{\"schema\":1,\"seq\":2,\"boot\xff garbage\n"));
  write_text(file, text);

  event_journal journal(opts);
  CHECK(journal.stats().corrupt_lines == 1);
  CHECK(journal.stats().torn_lines == 0);
  CHECK(journal.last_seq() == 4);
  const auto all = journal.read_since(0, 100);
  CHECK(seqs_of(all) == std::vector<std::uint64_t>{1, 3, 4});
  CHECK(all.gap);  // seq 2 is gone: the reader must know
  CHECK_FALSE(journal.read_since(2, 100).gap);
  REQUIRE(journal.append(make_event(5)));
  CHECK(seqs_of(journal.read_since(3, 100)) == std::vector<std::uint64_t>{4, 5});
}

TEST_CASE("journal: reading while another thread appends sees a consistent prefix", "[journal]") {
  temp_dir tmp;
  // Small segments and bound, so rotation and deletion race with the reads.
  event_journal journal(options_for(tmp.path(), 400, 50));
  constexpr std::uint64_t total = 3000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint64_t s = 1; s <= total; ++s) journal.append(make_event(s));
    done = true;
  });

  std::uint64_t after = 0;
  std::size_t bad = 0;
  std::size_t reads = 0;
  journal_read_position position;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const bool finished = done;  // read before, so the final read sees everything
    // Every other read goes on from the last one's position, the others scan.
    const auto batch = journal.read_since(after, 64, reads % 2 ? position : journal_read_position{});
    position = batch.position;
    ++reads;
    std::uint64_t expect = after + 1;
    for (const auto& e : batch.events) {
      if (e.seq < expect) ++bad;                 // never backwards, never repeated
      if (!batch.gap && e.seq != expect) ++bad;  // without a gap, exactly the next seqs
      expect = e.seq + 1;
    }
    if (batch.next_after < after) ++bad;
    after = batch.next_after;
    if (finished && after == total) break;
  }
  writer.join();
  CHECK(bad == 0);
  CHECK(after == total);
  CHECK(reads > 1);
  CHECK(journal.stats().appended == total);
  CHECK(journal.stats().events <= 400);
}

TEST_CASE("journal: journal_subscriber on a real bus records events in seq order and the gap", "[journal]") {
  temp_dir tmp;
  auto journal = std::make_shared<event_journal>(options_for(tmp.path()));
  boost::asio::io_context delivery;  // run by hand: the queue overflows while it is not
  event_bus bus;
  subscription_options sub_opts;
  sub_opts.name = "journal";
  sub_opts.queue_capacity = 4;
  sub_opts.executor = delivery.get_executor();
  auto sub = bus.subscribe(std::make_shared<journal_subscriber>(journal), {}, sub_opts);

  const auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      event e;
      e.kind = event_kind::connection_made;
      e.session_id = 1;
      bus.publish(e);
    }
  };
  publish(3);
  delivery.run();
  delivery.restart();
  publish(20);  // 4 fit, 16 are lost
  delivery.run();
  delivery.restart();
  publish(2);
  delivery.run();

  REQUIRE(sub.lost() > 0);
  CHECK(journal->stats().lost == sub.lost());
  CHECK(journal->last_seq() == bus.last_seq());
  const auto all = journal->read_since(0, 1000);
  CHECK(all.gap);
  CHECK(all.events.size() + sub.lost() == 25);
  for (std::size_t i = 1; i < all.events.size(); ++i) CHECK(all.events[i - 1].seq < all.events[i].seq);
  CHECK(all.events.front().boot_id == bus.boot_id());
  const auto from_start = journal->read_since(0, 3);
  CHECK(seqs_of(from_start) == range(1, 3));
  CHECK_FALSE(from_start.gap);
  // The last two arrived after the loss: reading from just before them is clean.
  const auto tail = journal->read_since(bus.last_seq() - 2, 10);
  CHECK(seqs_of(tail) == range(bus.last_seq() - 1, bus.last_seq()));
  CHECK_FALSE(tail.gap);
}

TEST_CASE("journal: a batch is stored in order with one call, refusing what does not follow", "[journal]") {
  temp_dir tmp;
  std::vector<journal_record> run;
  for (std::uint64_t seq : {1, 2, 3, 4, 5, 5, 4, 7, 8}) run.emplace_back(make_event(seq));
  {
    event_journal journal(options_for(tmp.path(), /*max_events=*/100, /*segment_events=*/3));
    CHECK(journal.append(run) == 7);
    std::vector<bool> stored;
    for (const auto& r : run) stored.push_back(r.stored);
    CHECK(stored == std::vector<bool>{true, true, true, true, true, false, false, true, true});
    CHECK(journal.stats().out_of_order == 2);
    CHECK(journal.stats().appended == 7);
    CHECK(journal.stats().segments == 3);  // a write never spans two segments: 1-3, 4 5 7, 8
    CHECK(journal.last_seq() == 8);
  }
  // What was stored is on disk, each record's line exactly as handed to the bridge.
  event_journal reopened(options_for(tmp.path(), 100, 3));
  const auto all = reopened.read_since(0, 100);
  CHECK(seqs_of(all) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 7, 8});
  CHECK(all.gap);  // seq 6 never arrived
  CHECK(run[7].json() == to_json_line(all.events[5]));
  std::string files;
  for (const auto& entry : fs::directory_iterator(tmp.path() / "journal"))
    if (entry.path().extension() == ".jsonl") files += read_text(entry.path());
  CHECK(files.find(run[0].line) != std::string::npos);
  CHECK(run[0].line.back() == '\n');
  CHECK(run[0].json().find('\n') == std::string_view::npos);
}

TEST_CASE("journal: with sync_interval 0 a batch is still stored whole, one event per write", "[journal]") {
  temp_dir tmp;
  auto o = options_for(tmp.path());
  o.sync_interval = std::chrono::milliseconds(0);  // one event, one sync: batching must not merge them
  event_journal journal(o);
  std::vector<journal_record> run;
  for (std::uint64_t seq = 1; seq <= 20; ++seq) run.emplace_back(make_event(seq));
  CHECK(journal.append(run) == 20);
  CHECK(seqs_of(journal.read_since(0, 100)) == range(1, 20));
}

TEST_CASE("journal: journal_subscriber appends each run the bus delivers, in order, with nothing left behind",
          "[journal]") {
  temp_dir tmp;
  auto journal = std::make_shared<event_journal>(options_for(tmp.path(), 100000, 10000));
  event_bus bus;
  subscription_options sub_opts;
  sub_opts.name = "journal";
  sub_opts.queue_capacity = 1 << 16;
  auto sub = bus.subscribe(std::make_shared<journal_subscriber>(journal), {}, sub_opts);
  constexpr std::uint64_t total = 5000;
  for (std::uint64_t i = 0; i < total; ++i) {
    event e;
    e.kind = event_kind::logon;
    e.session_id = 1 + i % 7;
    bus.publish(e);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (journal->last_seq() < total && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(journal->last_seq() == total);
  CHECK(seqs_of(journal->read_since(0, total)) == range(1, total));
  CHECK(journal->stats().appended == total);
  CHECK(sub.lost() == 0);
}

TEST_CASE("journal: a bad directory is a clear error", "[journal]") {
  temp_dir tmp;
  const auto file = tmp.path() / "not-a-dir";
  write_text(file, "x");

  journal_options o;
  o.directory = file;
  CHECK_THROWS_WITH(event_journal(o), Catch::Contains(file.string()) && Catch::Contains("not a directory"));
  o.directory = file / "journal";  // a path through a regular file
  CHECK_THROWS_AS(event_journal(o), std::system_error);
  CHECK_THROWS_WITH(event_journal(o), Catch::Contains(o.directory.string()) && Catch::Contains("Not a directory"));

  // One writer per directory: a second journal would interleave lines.
  const auto opts = options_for(tmp.path());
  event_journal first(opts);
  CHECK_THROWS_WITH(event_journal(opts), Catch::Contains("in use"));

  CHECK_THROWS_AS(event_journal(options_for(tmp.path(), 10, 11)), std::invalid_argument);
}
