# http_bench compares the own listener with cpp-httplib (+ cpprof::Attach).
target_link_libraries(http_bench PRIVATE PkgConfig::CPPROF_HTTPLIB)
