#pragma once
// Registered (persistent) sessions: the login parameters of every session a
// caller registered, kept in the state directory so isensd can log them in
// again when it starts. Written crash-safely (temp file, fsync, rename), with
// mode 0600 because the records hold CHAP secrets.

#include <isens/initiator/types.hpp>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace isens::daemon {

// One registration: a name for it and how to log in.
struct registration {
  std::string id;  // "<target>@<portal>"
  initiator::login_options login;
};

class registration_store {
 public:
  // Loads `directory`/registered_sessions.json if present; throws
  // std::runtime_error naming the file when it cannot be read or parsed.
  explicit registration_store(std::filesystem::path directory);

  // Adds or replaces the registration for the same target and portal; returns its id.
  std::string add(const initiator::login_options& login);
  // Removes a registration; false when there was none with that id.
  bool remove(const std::string& id);
  // Every registration, in the order they were added.
  std::vector<registration> list() const;
  // The file the registrations live in.
  const std::filesystem::path& file() const noexcept { return file_; }

  // The id a registration of `login` gets.
  static std::string id_for(const initiator::login_options& login);

 private:
  void save() const;  // caller holds mutex_

  std::filesystem::path file_;
  mutable std::mutex mutex_;
  std::vector<registration> registrations_;
};

}  // namespace isens::daemon
