#pragma once
// What the data-path suites against tgtd share: blocks stamped with their LBA
// and a generation, so a wrong block tells which write it came from; a window
// that keeps N facade I/Os in flight from the test's thread; a write+verify
// workload that remembers what each block was last acknowledged with; and
// the size scale (sanitizer and Debug builds move less data, always checked).

#include "tgtd_target.hpp"

#include <isens/initiator/initiator.hpp>

#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace isens::test {

// ---- size scale ----

// Full sizes in optimised builds; ISENS_DATA_TESTS_REDUCED (set by CMake for
// sanitizer and Debug builds) scales them down unless ISENS_DATA_TESTS_FULL=1.
inline bool full_size_data_tests() {
  if (const char* forced = std::getenv("ISENS_DATA_TESTS_FULL")) return std::string(forced) == "1";
#ifdef ISENS_DATA_TESTS_REDUCED
  return false;
#else
  return true;
#endif
}

// `full` in full-size runs, `reduced` otherwise.
inline std::uint64_t scaled(std::uint64_t full, std::uint64_t reduced) { return full_size_data_tests() ? full : reduced; }

// ---- stamped blocks ----
// A block of generation g at LBA n holds n (8 bytes, little-endian), g (8
// bytes), then a pseudo-random stream seeded by both. Generation 0 is never
// written: it stands for a block that still holds the sparse file's zeros.

namespace detail {

inline std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t load64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace detail

// Fills `out` (whole blocks) with generation `generation` of blocks first_lba, first_lba+1, ...
inline void stamp(std::span<std::byte> out, std::uint64_t first_lba, std::uint64_t generation,
                  std::uint32_t block_size) {
  for (std::size_t at = 0; at < out.size(); at += block_size) {
    const std::uint64_t lba = first_lba + at / block_size;
    std::byte* block = out.data() + at;
    std::memcpy(block, &lba, 8);
    std::memcpy(block + 8, &generation, 8);
    std::uint64_t state = lba * 0x100000001b3ULL ^ generation * 0xc2b2ae3d27d4eb4fULL;
    for (std::size_t i = 16; i < block_size; i += 8) {
      const auto word = detail::splitmix(state);
      std::memcpy(block + i, &word, 8);
    }
  }
}

// What one block read back holds, in words for a failure message.
inline std::string describe_block(std::span<const std::byte> block) {
  if (std::all_of(block.begin(), block.end(), [](std::byte b) { return b == std::byte{0}; })) return "zeros";
  const auto lba = detail::load64(block.data());
  const auto generation = detail::load64(block.data() + 8);
  std::vector<std::byte> clean(block.size());
  stamp(clean, lba, generation, static_cast<std::uint32_t>(block.size()));
  std::ostringstream out;
  out << "the stamp of LBA " << lba << " generation " << generation;
  if (!std::equal(clean.begin(), clean.end(), block.begin())) {
    const auto differs = std::mismatch(clean.begin(), clean.end(), block.begin()).first - clean.begin();
    out << ", damaged from byte " << differs;
  }
  return out.str();
}

// "" when `got` holds blocks first_lba, first_lba+1, ... each of the
// generation expected_generation(lba) (0: zeros); else what the first wrong
// block holds and how many are wrong.
inline std::string check_blocks(std::span<const std::byte> got, std::uint64_t first_lba, std::uint32_t block_size,
                                const std::function<std::uint64_t(std::uint64_t)>& expected_generation) {
  std::vector<std::byte> want(block_size);
  std::string first;
  std::size_t wrong = 0;
  for (std::size_t at = 0; at < got.size(); at += block_size) {
    const std::uint64_t lba = first_lba + at / block_size;
    const auto generation = expected_generation(lba);
    if (generation == 0) std::fill(want.begin(), want.end(), std::byte{0});
    else stamp(want, lba, generation, block_size);
    const auto block = got.subspan(at, block_size);
    if (std::equal(want.begin(), want.end(), block.begin())) continue;
    if (wrong++ == 0)
      first = "LBA " + std::to_string(lba) + " should hold generation " + std::to_string(generation) + " but holds " +
              describe_block(block);
  }
  if (wrong == 0) return {};
  return first + " (" + std::to_string(wrong) + " wrong blocks in all)";
}

// ---- the target ----

// A tgtd with standard_iqn (tid 1) whose LUN 1 (and LUN 2 when lun2_bytes > 0)
// live in /dev/shm, all initiators allowed, up to 4 connections per session.
// `lun1_file`, if given, receives LUN 1's backing file.
inline std::unique_ptr<tgtd_target> make_memory_target(std::uint64_t lun1_bytes, std::uint64_t lun2_bytes = 0,
                                                       std::filesystem::path* lun1_file = nullptr) {
  auto target = std::make_unique<tgtd_target>();
  target->add_target(std::string(standard_iqn), standard_tid);
  const auto file = target->add_lun(standard_tid, 1, lun1_bytes, lun_options{.in_memory = true});
  if (lun1_file) *lun1_file = file;
  if (lun2_bytes > 0) target->add_lun(standard_tid, 2, lun2_bytes, lun_options{.in_memory = true});
  target->bind_all_initiators(standard_tid);
  target->set_max_connections(standard_tid, standard_max_connections);
  return target;
}

// Login options for it, with LUN enumeration (the data path needs the LUNs' sizes).
inline initiator::login_options data_login(const tgtd_target& target,
                                           initiator::digest digests = initiator::digest::none) {
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", target.port()};
  o.target_name = std::string(standard_iqn);
  o.header_digest = digests;
  o.data_digest = digests;
  return o;
}

// ---- I/O from the test's thread ----

// Keeps up to `depth` facade I/Os in flight: submit() waits for a free slot
// and starts one; its completion (on the session's thread) records the
// outcome. Nothing here calls Catch2 off the test's thread: errors are kept
// for the test to check. The completions share the window's state, so one
// that comes after the window is gone (a test that gave up on a hung
// session) touches nothing freed.
class io_window {
 public:
  using handler = std::function<void(initiator::result<void>)>;
  using start_fn = std::function<void(handler)>;

  explicit io_window(std::size_t depth, std::chrono::milliseconds patience = std::chrono::seconds(60))
      : state_(std::make_shared<state>(depth, patience)) {}
  ~io_window() { drain(); }
  io_window(const io_window&) = delete;
  io_window& operator=(const io_window&) = delete;

  // Starts one I/O once a slot is free: start(done) must pass `done` as the
  // completion token. `what` names it in error messages; `on_done` runs on
  // the completing thread (for checks that must see the buffer at once).
  void submit(std::string what, const start_fn& start, std::function<void(bool ok)> on_done = {}) {
    {
      std::unique_lock lock(state_->mutex);
      if (!state_->changed.wait_for(lock, state_->patience, [&] { return state_->in_flight < state_->depth; }))
        throw std::runtime_error("no I/O completed within " + std::to_string(state_->patience.count()) + " ms (" +
                                 std::to_string(state_->in_flight) + " in flight)");
      ++state_->in_flight;
    }
    start([s = state_, what = std::move(what), on_done = std::move(on_done)](initiator::result<void> r) {
      if (on_done) on_done(r.has_value());
      std::lock_guard lock(s->mutex);
      if (!r) s->errors.push_back(what + ": " + r.error().what());
      ++s->completed;
      --s->in_flight;
      s->changed.notify_all();
    });
  }

  // Waits until nothing is in flight; false if something still is after `patience`.
  bool drain() {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, state_->patience, [&] { return state_->in_flight == 0; });
  }

  std::vector<std::string> errors() const {
    std::lock_guard lock(state_->mutex);
    return state_->errors;
  }
  // The first error, "" when there was none.
  std::string first_error() const {
    std::lock_guard lock(state_->mutex);
    return state_->errors.empty() ? std::string() : state_->errors.front();
  }

 private:
  struct state {
    state(std::size_t d, std::chrono::milliseconds p) : depth(d), patience(p) {}
    const std::size_t depth;
    const std::chrono::milliseconds patience;
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t in_flight = 0;
    std::size_t completed = 0;
    std::vector<std::string> errors;
  };
  std::shared_ptr<state> state_;
};

// One read or write from the test's thread, waited for.
inline initiator::result<void> write_blocks(initiator::initiator& ini, std::uint64_t session_id, std::uint64_t lun,
                                            std::uint64_t lba, std::span<const std::byte> data) {
  return ini.async_write(session_id, lun, lba, data, {}, boost::asio::use_future).get();
}
inline initiator::result<void> read_blocks(initiator::initiator& ini, std::uint64_t session_id, std::uint64_t lun,
                                           std::uint64_t lba, std::span<std::byte> into) {
  return ini.async_read(session_id, lun, lba, into, boost::asio::use_future).get();
}

// ---- the write+verify workload ----

// Keeps `depth` I/Os in flight on blocks [first_lba, first_lba + blocks) of
// one LUN, from its own thread, until stop(): writes of 1..8 blocks, each
// stamped with a generation of its own, and every fourth I/O a read checked
// at once against what its blocks were last acknowledged with. No two I/Os
// in flight share a block, so "the last acknowledged write" of a block is
// well defined. Like io_window, completions share the state they touch.
class stamped_workload {
 public:
  struct options {
    std::uint64_t lun = 1;
    std::uint32_t block_size = 512;
    std::uint64_t first_lba = 0;
    std::uint64_t blocks = 4096;
    std::size_t depth = 16;
    std::uint32_t max_blocks_per_io = 8;
    std::chrono::milliseconds patience{std::chrono::seconds(30)};  ///< longest wait for a free slot or the end
  };

  stamped_workload(initiator::initiator& ini, std::uint64_t session_id, options o)
      : ini_(ini), session_id_(session_id), o_(o), state_(std::make_shared<state>(o)) {}
  ~stamped_workload() { stop(); }
  stamped_workload(const stamped_workload&) = delete;
  stamped_workload& operator=(const stamped_workload&) = delete;

  void start() {
    thread_ = std::thread([this] {
      try {
        run();
      } catch (const std::exception& e) {
        state_->note_error(std::string("the workload stopped: ") + e.what());
      }
    });
  }

  // Stops submitting and waits for every I/O in flight; false if one never completed.
  bool stop() {
    {
      std::lock_guard lock(state_->mutex);
      state_->stopping = true;
    }
    state_->progress.notify_all();
    if (thread_.joinable()) thread_.join();
    return state_->window.drain();
  }

  // I/Os completed so far (good or not).
  std::uint64_t completed() const {
    std::lock_guard lock(state_->mutex);
    return state_->completed;
  }

  // Waits until more than `count` I/Os have completed; false after `limit`.
  bool wait_beyond(std::uint64_t count, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(state_->mutex);
    return state_->progress.wait_for(lock, limit, [&] { return state_->completed > count; });
  }

  // What the caller saw fail, and reads that did not match, during the run.
  std::vector<std::string> errors() const {
    auto all = state_->window.errors();
    std::lock_guard lock(state_->mutex);
    all.insert(all.end(), state_->errors.begin(), state_->errors.end());
    return all;
  }

  // Stops, then checks the whole run: "" when every I/O completed without
  // error, every read matched, and every block reads back as last
  // acknowledged; else the first thing that went wrong.
  std::string stop_and_verify() {
    if (!stop()) return "I/O still in flight after " + std::to_string(o_.patience.count()) + " ms";
    if (const auto failed = errors(); !failed.empty())
      return failed.front() + " (" + std::to_string(failed.size()) + " errors in all)";
    return verify_all();
  }

  // After stop(): reads every block back and compares it with its last
  // acknowledged generation; "" when all match.
  std::string verify_all(std::uint64_t blocks_per_read = 256) {
    std::vector<std::byte> image(o_.blocks * o_.block_size);
    io_window reads(8, o_.patience);
    for (std::uint64_t i = 0; i < o_.blocks; i += blocks_per_read) {
      const auto n = std::min(blocks_per_read, o_.blocks - i);
      const auto into = std::span<std::byte>(image).subspan(i * o_.block_size, n * o_.block_size);
      reads.submit("verifying read of LBA " + std::to_string(o_.first_lba + i), [&, i, into](io_window::handler done) {
        ini_.async_read(session_id_, o_.lun, o_.first_lba + i, into, std::move(done));
      });
    }
    if (!reads.drain()) return "the verifying reads did not complete";
    if (const auto failed = reads.errors(); !failed.empty()) return failed.front();
    return check_blocks(image, o_.first_lba, o_.block_size, [&](std::uint64_t lba) { return state_->acked[lba - o_.first_lba]; });
  }

 private:
  static constexpr std::uint64_t unknown = ~std::uint64_t{0};  // a failed write's blocks

  struct state {
    explicit state(const options& o) : busy(o.blocks, false), acked(o.blocks, 0), window(o.depth, o.patience) {}

    void note_error(std::string what) {
      std::lock_guard lock(mutex);
      errors.push_back(std::move(what));
    }
    // The I/O on blocks [index, index + n) ended: they are free again.
    void release(std::uint64_t index, std::uint32_t n) {
      {
        std::lock_guard lock(mutex);
        std::fill_n(busy.begin() + static_cast<std::ptrdiff_t>(index), n, false);
        ++completed;
      }
      progress.notify_all();
    }

    std::mutex mutex;
    std::condition_variable progress;
    bool stopping = false;              // guarded by mutex
    std::uint64_t completed = 0;        // guarded by mutex
    std::vector<bool> busy;             // guarded by mutex
    std::vector<std::uint64_t> acked;   // an entry is touched only while its block is busy
    std::vector<std::string> errors;    // guarded by mutex
    io_window window;
  };

  // Picks an extent (indexes from first_lba) none of whose blocks is in flight, and marks it busy.
  std::pair<std::uint64_t, std::uint32_t> claim(std::mt19937_64& random) {
    std::uniform_int_distribution<std::uint32_t> length(1, o_.max_blocks_per_io);
    for (;;) {
      const auto n = length(random);
      const auto index = std::uniform_int_distribution<std::uint64_t>(0, o_.blocks - n)(random);
      std::lock_guard lock(state_->mutex);
      const auto first = state_->busy.begin() + static_cast<std::ptrdiff_t>(index);
      if (std::any_of(first, first + n, [](bool b) { return b; })) continue;
      std::fill_n(first, n, true);
      return {index, n};
    }
  }

  bool stopping() const {
    std::lock_guard lock(state_->mutex);
    return state_->stopping;
  }

  void run() {
    std::mt19937_64 random(0x15e115);
    std::uint64_t generation = 0;
    const auto s = state_;
    for (std::uint64_t i = 0; !stopping(); ++i) {
      const auto [index, n] = claim(random);
      const auto lba = o_.first_lba + index;
      const auto block_size = o_.block_size;
      auto buffer = std::make_shared<std::vector<std::byte>>(std::size_t{n} * block_size);
      const auto extent = "LBA " + std::to_string(lba) + "+" + std::to_string(n);
      if (i % 4 == 3) {
        s->window.submit(
            "read of " + extent,
            [&, lba, buffer](io_window::handler done) {
              ini_.async_read(session_id_, o_.lun, lba, std::span<std::byte>(*buffer), std::move(done));
            },
            [s, index, lba, n, block_size, buffer](bool ok) {
              if (ok) {
                auto wrong = check_blocks(*buffer, lba, block_size, [&](std::uint64_t b) { return s->acked[index + (b - lba)]; });
                if (!wrong.empty()) s->note_error("a read during the run: " + wrong);
              }
              s->release(index, n);
            });
        continue;
      }
      const std::uint64_t g = ++generation;
      stamp(*buffer, lba, g, block_size);
      s->window.submit(
          "write of " + extent + " generation " + std::to_string(g),
          [&, lba, buffer](io_window::handler done) {
            ini_.async_write(session_id_, o_.lun, lba, std::span<const std::byte>(*buffer), {}, std::move(done));
          },
          [s, index, n, g, buffer](bool ok) {
            // A failed write leaves its blocks unknown: nothing to compare them with.
            for (std::uint64_t b = index; b < index + n; ++b) s->acked[b] = ok ? g : unknown;
            s->release(index, n);
          });
    }
  }

  initiator::initiator& ini_;
  const std::uint64_t session_id_;
  const options o_;
  std::shared_ptr<state> state_;
  std::thread thread_;
};

}  // namespace isens::test
