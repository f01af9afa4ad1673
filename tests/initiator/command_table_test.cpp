// The session's table of commands in flight: ITTs that stay unique while a
// command flies and never find a command that has ended, and the count of
// commands each connection carries.
#include "session/command_table.hpp"

#include <catch2/catch.hpp>

#include <set>

using isens::initiator::detail::command_table;
using isens::initiator::detail::scsi_task;

namespace {

struct test_task final : scsi_task {
  void complete(isens::initiator::result<isens::initiator::detail::scsi_completion>) override {}
};

std::unique_ptr<scsi_task> task_on(std::uint64_t connection_id) {
  auto t = std::make_unique<test_task>();
  t->connection_id = connection_id;
  return t;
}

}  // namespace

TEST_CASE("a command is found by the ITT the table gave it, until it is taken") {
  command_table table;
  auto t = task_on(1);
  auto* raw = t.get();
  const auto itt = table.insert(std::move(t));
  CHECK(raw->itt == itt);
  CHECK(command_table::is_command_tag(itt));
  CHECK(table.find(itt) == raw);
  CHECK(table.size() == 1);
  auto back = table.take(itt);
  CHECK(back.get() == raw);
  CHECK(table.find(itt) == nullptr);
  CHECK(table.take(itt) == nullptr);
  CHECK(table.empty());
}

TEST_CASE("a reused slot gets a new ITT, so a late answer to the old command finds nothing") {
  command_table table;
  const auto first = table.insert(task_on(1));
  table.take(first);
  const auto second = table.insert(task_on(1));
  CHECK(second != first);
  CHECK(table.find(first) == nullptr);
  CHECK(table.find(second) != nullptr);
}

TEST_CASE("ITTs in flight are distinct, never reserved, never a control request's") {
  command_table table;
  std::set<std::uint32_t> tags;
  for (int round = 0; round < 3000; ++round) {
    for (int i = 0; i < 300; ++i) tags.insert(table.insert(task_on(1)));
    CHECK(tags.size() == 300);
    for (const auto itt : tags) {
      CHECK(itt != 0xFFFFFFFFu);
      CHECK((itt & command_table::control_tag_bit) == 0);
      REQUIRE(table.take(itt) != nullptr);
    }
    tags.clear();
  }
  CHECK(table.empty());
  CHECK(table.find(0xFFFFFFFFu) == nullptr);
  CHECK(table.find(command_table::control_tag_bit | 1) == nullptr);
  CHECK(table.find(12345) == nullptr);
}

TEST_CASE("each connection's load counts its commands in flight") {
  command_table table;
  const auto a1 = table.insert(task_on(7));
  table.insert(task_on(7));
  table.insert(task_on(9));
  CHECK(table.in_flight_on(7) == 2);
  CHECK(table.in_flight_on(9) == 1);
  CHECK(table.in_flight_on(3) == 0);
  table.take(a1);
  CHECK(table.in_flight_on(7) == 1);

  const auto moved = table.take_on(7);
  REQUIRE(moved.size() == 1);
  CHECK(moved.front()->connection_id == 7);
  CHECK(table.in_flight_on(7) == 0);
  CHECK(table.size() == 1);

  std::size_t seen = 0;
  table.for_each([&](const scsi_task& t) { seen += t.connection_id == 9; });
  CHECK(seen == 1);
  CHECK(table.take_all().size() == 1);
  CHECK(table.in_flight_on(9) == 0);
  CHECK(table.empty());
}
