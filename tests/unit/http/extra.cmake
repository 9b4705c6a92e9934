# The cpp-httplib adapter test (httplib_adapter_test.cc) compiles
# include/cpprof/httplib.h against the system cpp-httplib; only this test
# binary links it, never the library.
target_link_libraries(cpprof_http_tests PRIVATE PkgConfig::CPPROF_HTTPLIB)
