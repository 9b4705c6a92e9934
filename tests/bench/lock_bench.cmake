# lock_bench (above) has cpprof's lock hooks in the executable; lock_bench_so
# gets them from libcpprof.so, one more PLT hop away.
add_executable(lock_bench_so lock_bench.cc)
target_include_directories(lock_bench_so PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(lock_bench_so PRIVATE cpprof Threads::Threads)
