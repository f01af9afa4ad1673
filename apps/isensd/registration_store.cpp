#include "registration_store.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace isens::daemon {
namespace {

using json = nlohmann::ordered_json;

json credentials_json(const std::optional<initiator::chap_credentials>& c) {
  if (!c) return nullptr;
  return {{"user", c->user}, {"secret", c->secret}};
}

std::optional<initiator::chap_credentials> credentials_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return initiator::chap_credentials{j.at("user").get<std::string>(), j.at("secret").get<std::string>()};
}

json to_record(const registration& r) {
  const auto& l = r.login;
  return {{"id", r.id},
          {"portal", l.target_portal.to_string()},
          {"target", l.target_name},
          {"chap", credentials_json(l.chap)},
          {"mutual_chap", credentials_json(l.mutual_chap)},
          {"header_digest", initiator::to_string(l.header_digest)},
          {"data_digest", initiator::to_string(l.data_digest)},
          {"max_connections", l.max_connections}};
}

registration from_record(const json& j) {
  registration r;
  r.id = j.at("id").get<std::string>();
  auto where = initiator::portal::parse(j.at("portal").get<std::string>());
  if (!where) throw std::runtime_error(where.error().what());
  r.login.target_portal = *where;
  r.login.target_name = j.at("target").get<std::string>();
  r.login.chap = credentials_from(j.at("chap"));
  r.login.mutual_chap = credentials_from(j.at("mutual_chap"));
  r.login.header_digest = initiator::parse_digest(j.at("header_digest").get<std::string>()).value_or(initiator::digest::none);
  r.login.data_digest = initiator::parse_digest(j.at("data_digest").get<std::string>()).value_or(initiator::digest::none);
  r.login.max_connections = j.at("max_connections").get<std::uint32_t>();
  return r;
}

[[noreturn]] void io_failure(const std::string& what, const std::filesystem::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

// Writes `text` to `path` so that a crash at any point leaves either the old
// file or the new one, never a torn one.
void write_atomically(const std::filesystem::path& path, const std::string& text) {
  const auto temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) io_failure("cannot create", temp);
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      io_failure("cannot write", temp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    io_failure("cannot fsync", temp);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) io_failure("cannot rename onto", path);
  // The rename itself is durable only once the directory is synced.
  if (const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace

registration_store::registration_store(std::filesystem::path directory)
    : file_(std::move(directory) / "registered_sessions.json") {
  std::ifstream in(file_);
  if (!in) return;  // nothing registered yet
  std::stringstream text;
  text << in.rdbuf();
  try {
    const auto j = json::parse(text.str());
    for (const auto& record : j.at("sessions")) registrations_.push_back(from_record(record));
  } catch (const std::exception& ex) {
    throw std::runtime_error("cannot read registered sessions from " + file_.string() + ": " + ex.what());
  }
}

std::string registration_store::id_for(const initiator::login_options& login) {
  return login.target_name + "@" + login.target_portal.to_string();
}

std::string registration_store::add(const initiator::login_options& login) {
  std::lock_guard lock(mutex_);
  registration r{id_for(login), login};
  r.login.isid.reset();  // a new run logs in with a new ISID
  auto existing = std::find_if(registrations_.begin(), registrations_.end(), [&](const auto& x) { return x.id == r.id; });
  if (existing != registrations_.end()) {
    *existing = r;
  } else {
    registrations_.push_back(r);
  }
  save();
  return r.id;
}

bool registration_store::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto before = registrations_.size();
  std::erase_if(registrations_, [&](const auto& r) { return r.id == id; });
  if (registrations_.size() == before) return false;
  save();
  return true;
}

std::vector<registration> registration_store::list() const {
  std::lock_guard lock(mutex_);
  return registrations_;
}

void registration_store::save() const {
  json records = json::array();
  for (const auto& r : registrations_) records.push_back(to_record(r));
  write_atomically(file_, json{{"version", 1}, {"sessions", std::move(records)}}.dump(2) + "\n");
}

}  // namespace isens::daemon
