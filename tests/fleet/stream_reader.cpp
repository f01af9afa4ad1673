#include "stream_reader.hpp"

#include <isens/fleet/nats_connection.hpp>
#include <isens/fleet/nats_error.hpp>
#include <isens/fleet/subjects.hpp>

#include <charconv>
#include <cstring>
#include <numeric>

namespace isens::test {

std::vector<stored_message> read_stream(const std::string& url, const std::string& stream) {
  auto connection = fleet::nats_connection::connect(fast_nats_options(url));
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&info, connection->jetstream(), stream.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return {};
  fleet::check_nats(status, "stream info of " + stream, code);
  const auto first = info->State.FirstSeq, last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  std::vector<stored_message> messages;
  for (auto seq = first; seq != 0 && seq <= last; ++seq) {
    natsMsg* msg = nullptr;
    code = static_cast<jsErrCode>(0);
    status = js_GetMsg(&msg, connection->jetstream(), stream.c_str(), seq, nullptr, &code);
    if (status == NATS_NOT_FOUND) continue;  // deleted
    fleet::check_nats(status, "message " + std::to_string(seq) + " of " + stream, code);
    stored_message m;
    m.stream_seq = seq;
    m.subject = natsMsg_GetSubject(msg);
    m.body.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &value) == NATS_OK && value) m.msg_id = value;
    if (natsMsgHeader_Get(msg, fleet::seq_header, &value) == NATS_OK && value)
      std::from_chars(value, value + std::strlen(value), m.seq);
    natsMsg_Destroy(msg);
    messages.push_back(std::move(m));
  }
  return messages;
}

std::vector<std::uint64_t> seqs_of(const std::vector<stored_message>& messages) {
  std::vector<std::uint64_t> seqs;
  for (const auto& m : messages) seqs.push_back(m.seq);
  return seqs;
}

std::vector<std::uint64_t> one_to(std::uint64_t n) {
  std::vector<std::uint64_t> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

fleet::nats_options fast_nats_options(const std::string& url) {
  fleet::nats_options o;
  o.urls = {url};
  o.name = "isens-test";
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.reconnect_wait = std::chrono::milliseconds(100);
  o.ping_interval = std::chrono::milliseconds(1000);
  o.api_timeout = std::chrono::milliseconds(2000);
  return o;
}

}  // namespace isens::test
