#include "secret_source.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace isens::apps {
namespace {

constexpr std::size_t max_secret_bytes = 4096;

// Closes a descriptor however the function is left.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// One line: everything up to the first newline ("\r\n" too).
std::string first_line(std::string text) {
  if (const auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

// The terminal's settings while a prompt has echo off, for the signal
// handler below; a process prompts at most once at a time.
int prompt_fd = -1;
termios prompt_saved{};

// Ctrl-C (or any ending signal) at the prompt: put echo back, then die of
// the signal as the default action would, so the shell is not left mute.
extern "C" void restore_terminal_and_reraise(int signo) {
  if (prompt_fd >= 0) ::tcsetattr(prompt_fd, TCSANOW, &prompt_saved);
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

// Installs restore_terminal_and_reraise for the prompt's duration.
class terminal_guard {
 public:
  terminal_guard(int fd, const termios& saved) {
    prompt_fd = fd;
    prompt_saved = saved;
    struct sigaction action{};
    action.sa_handler = restore_terminal_and_reraise;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &action, &previous_[i]);
  }
  ~terminal_guard() {
    ::tcsetattr(prompt_fd, TCSANOW, &prompt_saved);
    for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &previous_[i], nullptr);
    prompt_fd = -1;
  }
  terminal_guard(const terminal_guard&) = delete;
  terminal_guard& operator=(const terminal_guard&) = delete;

 private:
  static constexpr std::array<int, 4> signals_{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  std::array<struct sigaction, 4> previous_{};
};

}  // namespace

std::string read_secret_file(const std::filesystem::path& file) {
  const auto where = "secret file " + file.string();
  // Checked on the open descriptor (fstat), so the file cannot be swapped
  // between the check and the read.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw secret_error(where + ": " + std::strerror(errno));
  fd_closer closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw secret_error(where + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw secret_error(where + ": not a regular file");
  if ((st.st_mode & 077) != 0)
    throw secret_error(where + ": mode " + octal_mode(st.st_mode) +
                       " lets other users read it; it must be 0600 or stricter (chmod 600 " + file.string() + ")");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    throw secret_error(where + ": owned by uid " + std::to_string(st.st_uid) + ", not by you (uid " +
                       std::to_string(::geteuid()) + ") or root");
  if (static_cast<std::size_t>(st.st_size) > max_secret_bytes)
    throw secret_error(where + ": larger than " + std::to_string(max_secret_bytes) + " bytes; a CHAP secret is one line");
  std::string text(max_secret_bytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const auto n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw secret_error(where + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_secret_bytes) throw secret_error(where + ": larger than " + std::to_string(max_secret_bytes) + " bytes");
  text.resize(got);
  auto secret = first_line(std::move(text));
  if (secret.empty()) throw secret_error(where + ": empty");
  return secret;
}

bool can_prompt() {
  if (!::isatty(STDIN_FILENO)) return false;
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string prompt_secret(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw secret_error("no terminal to ask for the secret on (/dev/tty: " + std::string(std::strerror(errno)) + ")");
  fd_closer closer{fd};
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) throw secret_error("no terminal to ask for the secret on");
  termios quiet = saved;
  quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
  quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
  std::string line;
  bool ended = false;
  {
    const terminal_guard restore(fd, saved);  // echo comes back however this block is left
    // Echo off before the prompt shows: whatever is typed after it is never
    // echoed. (Type-ahead from before the prompt is dropped with the flush.)
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
    const std::string text = prompt + ": ";
    if (::write(fd, text.data(), text.size()) < 0) throw secret_error("cannot write the prompt to the terminal");
    char c = 0;
    for (;;) {
      const auto n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (c == '\n') {
        ended = true;
        break;
      }
      if (line.size() < max_secret_bytes) line += c;
    }
  }
  if (!ended && line.empty()) throw secret_error("no secret entered");
  line = first_line(std::move(line));
  if (line.empty()) throw secret_error("no secret entered");
  return line;
}

}  // namespace isens::apps
