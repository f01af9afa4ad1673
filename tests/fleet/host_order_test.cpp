// The per-host order a fleet consumer checks: in order, duplicates, holes,
// late arrivals (a resend after a refused publish), journals started anew.
#include <isens/fleet/host_order.hpp>

#include <catch2/catch.hpp>

using isens::fleet::host_order;
using isens::fleet::order_verdict;

TEST_CASE("host_order tells in-order events from duplicates, holes and late ones", "[fleet][unit]") {
  host_order order(true);
  CHECK(order.see_event("a", "b1", 5).verdict == order_verdict::first);
  CHECK(order.see_event("a", "b1", 6).verdict == order_verdict::in_order);
  CHECK(order.see_event("b", "x", 1).verdict == order_verdict::first);  // hosts are apart
  CHECK(order.see_event("a", "b1", 6).verdict == order_verdict::duplicate);

  const auto hole = order.see_event("a", "b1", 10);
  CHECK(hole.verdict == order_verdict::after_missing);
  CHECK(hole.missing == 3);
  CHECK(hole.expected_seq == 7);
  // 8 comes late (resent after 10 was stored), once; then it is a duplicate.
  CHECK(order.see_event("a", "b1", 8).verdict == order_verdict::late);
  CHECK(order.see_event("a", "b1", 8).verdict == order_verdict::duplicate);
  CHECK(order.see_event("a", "b1", 7).verdict == order_verdict::late);
  CHECK(order.see_event("a", "b1", 9).verdict == order_verdict::late);
  CHECK(order.see_event("a", "b1", 9).verdict == order_verdict::duplicate);
  CHECK(order.see_event("a", "b1", 11).verdict == order_verdict::in_order);

  // seq continues across restarts: a new boot above is in order...
  CHECK(order.see_event("a", "b2", 12).verdict == order_verdict::in_order);
  // ...a new boot below is a journal started anew (state dir wiped).
  CHECK(order.see_event("a", "b3", 1).verdict == order_verdict::journal_reset);
  CHECK(order.see_event("a", "b3", 2).verdict == order_verdict::in_order);
}

TEST_CASE("host_order: gap messages account for their seqs", "[fleet][unit]") {
  host_order order(true);
  CHECK(order.see_event("a", "b", 1).verdict == order_verdict::first);
  CHECK(order.see_gap("a", "b", 2, 40).verdict == order_verdict::in_order);
  CHECK(order.see_event("a", "b", 41).verdict == order_verdict::in_order);
  CHECK(order.see_gap("a", "b", 2, 40).verdict == order_verdict::duplicate);
}

TEST_CASE("host_order under a kind filter finds duplicates but no holes", "[fleet][unit]") {
  host_order order(false);
  CHECK(order.see_event("a", "b", 3).verdict == order_verdict::first);
  CHECK(order.see_event("a", "b", 9).verdict == order_verdict::in_order);
  CHECK(order.see_event("a", "b", 9).verdict == order_verdict::duplicate);
}
