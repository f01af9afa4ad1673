// Creating or checking the stream, and asking it for a host's last message.
#include "isens/fleet/stream_setup.hpp"

#include "isens/fleet/nats_error.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace isens::fleet {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::string list_text(const char* const* items, int count) {
  std::string text = "[";
  for (int i = 0; i < count; ++i) {
    if (i) text += ", ";
    text += items[i];
  }
  return text + "]";
}

struct stream_info_handle {
  jsStreamInfo* info = nullptr;
  ~stream_info_handle() { jsStreamInfo_Destroy(info); }
};

struct msg_handle {
  natsMsg* msg = nullptr;
  ~msg_handle() { natsMsg_Destroy(msg); }
};

std::uint64_t to_u64(const char* text) {
  std::uint64_t value = 0;
  if (!text) return 0;
  std::string_view view(text);
  std::from_chars(view.data(), view.data() + view.size(), value);
  return value;
}

}  // namespace

std::string ensure_stream(jsCtx* js, const stream_options& stream) {
  std::vector<const char*> subjects;
  for (const auto& s : stream.subjects) subjects.push_back(s.c_str());
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.name.c_str();
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  config.Storage = stream.memory_storage ? js_MemoryStorage : js_FileStorage;
  config.MaxAge = stream.max_age.count() * ns_per_s;
  config.MaxBytes = stream.max_bytes;
  config.Duplicates = stream.duplicate_window.count() * ns_per_s;

  stream_info_handle existing;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&existing.info, js, stream.name.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    stream_info_handle created;
    code = static_cast<jsErrCode>(0);
    status = js_AddStream(&created.info, js, &config, nullptr, &code);
    check_nats(status, "cannot create stream " + stream.name + " with subjects " +
                           list_text(subjects.data(), config.SubjectsLen), code);
    return "created";
  }
  check_nats(status, "cannot read stream " + stream.name, code);

  const jsStreamConfig& have = *existing.info->Config;
  bool same_subjects = have.SubjectsLen == config.SubjectsLen;
  for (int i = 0; same_subjects && i < have.SubjectsLen; ++i)
    same_subjects = std::string_view(have.Subjects[i]) == subjects[static_cast<std::size_t>(i)];
  if (!same_subjects) {
    throw nats_error::plain("stream " + stream.name + " exists with subjects " + list_text(have.Subjects, have.SubjectsLen) +
                         " but [nats] stream_subjects is " + list_text(subjects.data(), config.SubjectsLen),
                     NATS_MISMATCH);
  }
  if (have.Storage != config.Storage) {
    throw nats_error::plain("stream " + stream.name + " exists with " +
                         (have.Storage == js_FileStorage ? "file" : "memory") + " storage, configured " +
                         (config.Storage == js_FileStorage ? "file" : "memory"),
                     NATS_MISMATCH);
  }
  if (have.MaxAge == config.MaxAge && have.MaxBytes == config.MaxBytes && have.Duplicates == config.Duplicates)
    return "checked";
  stream_info_handle updated;
  code = static_cast<jsErrCode>(0);
  status = js_UpdateStream(&updated.info, js, &config, nullptr, &code);
  check_nats(status, "cannot update the limits of stream " + stream.name, code);
  return "updated";
}

last_stored find_last_stored(jsCtx* js, const std::string& stream, const std::string& host_token) {
  msg_handle last;
  jsErrCode code = static_cast<jsErrCode>(0);
  const auto filter = host_filter(host_token);
  natsStatus status = js_GetLastMsg(&last.msg, js, stream.c_str(), filter.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return {};
  check_nats(status, "cannot ask stream " + stream + " for the last message of " + filter, code);

  last_stored found;
  found.any = true;
  found.stream_seq = natsMsg_GetSequence(last.msg);
  const char* value = nullptr;
  if (natsMsgHeader_Get(last.msg, seq_header, &value) == NATS_OK) found.seq = to_u64(value);
  if (natsMsgHeader_Get(last.msg, boot_id_header, &value) == NATS_OK && value) found.boot_id = value;
  if (found.seq == 0) {
    // Written by something else than this bridge version: read the body.
    auto body = nlohmann::json::parse(std::string_view(natsMsg_GetData(last.msg), natsMsg_GetDataLength(last.msg)),
                                      nullptr, false);
    if (body.is_object()) {
      if (body.contains("last_seq") && body["last_seq"].is_number_unsigned()) found.seq = body["last_seq"];
      else if (body.contains("seq") && body["seq"].is_number_unsigned()) found.seq = body["seq"];
    }
  }
  return found;
}

}  // namespace isens::fleet
