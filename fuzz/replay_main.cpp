// Replays files through the fuzz targets without libFuzzer, as a regression test of the normal test suite
// (fuzz/README.md, "Replay in ctest"). With SWITCHYARD_TESTS=ON and SWITCHYARD_FUZZ=OFF, fuzz/CMakeLists.txt
// compiles every target fuzz/<name>.cpp into this one executable with
// -DLLVMFuzzerTestOneInput=sy_fuzz_<name>, and generates fuzz_replay_targets.inc (one
// SY_FUZZ_REPLAY_TARGET(name) per target) for the table below.
//
//   fuzz_replay <target> <file-or-directory>...    replay the empty input, then every file (directories
//                                                  recursively, in name order); a path that does not
//                                                  exist is skipped (most targets have no regressions/)
//   fuzz_replay --list                             the targets
//
// Like libFuzzer, each input is passed in a heap buffer of exactly its size (so ASan sees an over-read).
// A target's invariant check (SY_FUZZ_CHECK) aborts the process, and a sanitizer report ends it: either
// way the input's file name is printed on stderr and the exit is non-zero. An exception that
// escapes the target is a finding too (libFuzzer reports it as a crash). Exit 0 when every input passed,
// 2 on a usage error or when no input file was found at all (a wrong path must not pass silently).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#define SY_FUZZ_REPLAY_TARGET(name) extern "C" int sy_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_replay_targets.inc"
#undef SY_FUZZ_REPLAY_TARGET

namespace {

namespace fs = std::filesystem;

using TargetFn = int (*)(const std::uint8_t*, std::size_t);

struct Target {
  const char* name;
  TargetFn fn;
};

constexpr Target kTargets[] = {
#define SY_FUZZ_REPLAY_TARGET(name) {#name, &sy_fuzz_##name},
#include "fuzz_replay_targets.inc"
#undef SY_FUZZ_REPLAY_TARGET
};

// What to print when the process dies on the current input: formatted before each input, written with
// write(2) from the handlers (async-signal-safe).
char g_dying_message[4096] = "";

void set_current(std::string_view target, std::string_view input) {
  std::snprintf(g_dying_message, sizeof g_dying_message, "\nfuzz_replay: %.*s FAILED on input %.*s\n",
                static_cast<int>(target.size()), target.data(), static_cast<int>(input.size()), input.data());
}

void print_dying_message() {
  ssize_t ignored = ::write(STDERR_FILENO, g_dying_message, std::strlen(g_dying_message));
  (void)ignored;
}

extern "C" void on_fatal_signal(int sig) {
  print_dying_message();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

extern "C" void on_sanitizer_death() { print_dying_message(); }

using SetDeathCallback = void (*)(void (*)());

/// Registers on_sanitizer_death with every sanitizer runtime in the process: a report that ends it (ASan,
/// UBSan with halt_on_error, LSan) calls it back. GCC loads libasan and libubsan as two shared libraries,
/// each with its own copy of the callback, so each loaded object is asked for its
/// __sanitizer_set_death_callback; without sanitizers there is none and this does nothing.
void set_death_callbacks() {
  std::vector<SetDeathCallback> done;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& done = *static_cast<std::vector<SetDeathCallback>*>(data);
        const char* name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : nullptr;  // null: main
        void* handle = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
        if (!handle) return 0;
        auto set = reinterpret_cast<SetDeathCallback>(dlsym(handle, "__sanitizer_set_death_callback"));
        if (set && std::find(done.begin(), done.end(), set) == done.end()) {
          set(on_sanitizer_death);
          done.push_back(set);
        }
        dlclose(handle);
        return 0;
      },
      &done);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

void install_handlers() {
  std::signal(SIGABRT, on_fatal_signal);  // SY_FUZZ_CHECK, std::terminate, assert
  // ASan reports SEGV and friends itself (and names the input through the death callback); without it
  // these handlers name the input before the default action.
  if (!kAsan) {
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
  }
  set_death_callbacks();
}

/// Runs one input through `t` in an exactly-sized heap buffer. Returns false when an exception escaped.
bool run_one(const Target& t, std::string_view label, const std::string& bytes) {
  set_current(t.name, label);
  // new[] of 0 bytes still gives a unique non-null pointer, as libFuzzer passes for the empty input.
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), buf.get());
  try {
    (void)t.fn(buf.get(), bytes.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_replay: %s FAILED on input %.*s: uncaught exception: %s\n", t.name,
                 static_cast<int>(label.size()), label.data(), e.what());
    return false;
  } catch (...) {
    std::fprintf(stderr, "fuzz_replay: %s FAILED on input %.*s: uncaught exception\n", t.name,
                 static_cast<int>(label.size()), label.data());
    return false;
  }
  return true;
}

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int usage() {
  std::fprintf(stderr, "usage: fuzz_replay <target> <file-or-directory>...\n       fuzz_replay --list\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--list") {
    for (const auto& t : kTargets) std::printf("%s\n", t.name);
    return 0;
  }
  if (argc < 3) return usage();
  const Target* target = nullptr;
  for (const auto& t : kTargets) {
    if (std::string_view(argv[1]) == t.name) target = &t;
  }
  if (!target) {
    std::fprintf(stderr, "fuzz_replay: unknown target '%s' (--list shows them)\n", argv[1]);
    return 2;
  }

  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    fs::path p = argv[i];
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
        if (e.is_regular_file()) found.push_back(e.path());
      }
      if (ec) {
        std::fprintf(stderr, "fuzz_replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
        return 2;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      std::fprintf(stderr, "fuzz_replay: %s is neither a file nor a directory\n", argv[i]);
      return 2;
    } else {
      std::printf("fuzz_replay: %s: absent, skipped\n", argv[i]);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "fuzz_replay: %s: no input files in the given paths\n", target->name);
    return 2;
  }

  install_handlers();
  auto start = std::chrono::steady_clock::now();
  bool ok = run_one(*target, "<empty input>", std::string());
  std::string bytes;
  for (const auto& f : files) {
    if (!read_file(f, bytes)) {
      std::fprintf(stderr, "fuzz_replay: cannot read %s\n", f.c_str());
      return 2;
    }
    ok = run_one(*target, f.native(), bytes) && ok;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz_replay: %s: %zu files + the empty input in %lld ms: %s\n", target->name, files.size(),
              static_cast<long long>(ms), ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}
