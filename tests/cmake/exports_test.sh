#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What libcpprof.so and the preload module export (docs/cmake.md): the
# cpprof:: API and the interposed functions of every hook family, and no
# instantiation of a standard-library template.
#
#   exports_test.sh LIBCPPROF_SO LIBCPPROF_PRELOAD_SO
set -euo pipefail
status=0
for lib in "$@"; do
  syms="$(nm -D --defined-only "$lib" | awk '{print $3}' | c++filt)"
  leaked="$(grep -E '(^|[ *])(std|__gnu_cxx)::' <<<"$syms" | grep -Ev '^cpprof::|^operator (new|delete)' || true)"
  if [[ -n "$leaked" ]]; then
    echo "FAIL: $lib exports standard-library code:" >&2
    head -5 <<<"$leaked" >&2
    status=1
  fi
  for want in malloc free 'operator new(unsigned long)' pthread_create pthread_mutex_lock pthread_cond_wait \
      open openat __open_2 socket accept4 pipe2 dup2 fopen popen opendir mkstemp close close_range fclose \
      cpprof_instance_marker; do
    grep -qxF -- "$want" <<<"$syms" || { echo "FAIL: $lib does not export $want" >&2; status=1; }
  done
  if [[ "$lib" != *preload* ]]; then
    for want in 'cpprof::Version()' 'cpprof::Server::Start()' 'cpprof::SetFdAlertCallback(void (*)(cpprof::FdAlert const&))'; do
      grep -qxF -- "$want" <<<"$syms" || { echo "FAIL: $lib does not export $want" >&2; status=1; }
    done
  fi
  echo "$lib: $(wc -l <<<"$syms") exported symbols"
done
exit $status
