// SPDX-License-Identifier: Apache-2.0
//
// A consumer that names no cpprof symbol and relies on the load-time start
// alone: run with CPPROF_ADDR set, it passes once cpprof's HTTP threads are
// running. Linked statically, the linker would otherwise leave the object
// holding that start out (nothing references it); cpprof::cpprof_static's
// interface keeps it in (`-u cpprof_instance_marker`, docs/cmake.md).

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace {

bool HasThreadNamed(const char* prefix) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.compare(0, std::strlen(prefix), prefix) == 0) found = true;
  }
  closedir(dir);
  return found;
}

}  // namespace

int main() {
  if (getenv("CPPROF_ADDR") == nullptr) {
    std::fprintf(stderr, "env_start: FAIL: run with CPPROF_ADDR set\n");
    return 1;
  }
  for (int i = 0; i < 600; ++i) {  // up to 60 s on a loaded machine
    if (HasThreadNamed("cpprof-http")) {
      std::printf("env_start: OK (the endpoint started at load time)\n");
      return 0;
    }
    usleep(100 * 1000);
  }
  std::fprintf(stderr, "env_start: FAIL: no cpprof-http thread: the load-time start is not linked in\n");
  return 1;
}
