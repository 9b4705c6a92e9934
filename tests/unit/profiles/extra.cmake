# A module the heap tests load with dlopen (its path comes as a definition).
add_library(cpprof_test_alloc_plugin MODULE ${CMAKE_CURRENT_SOURCE_DIR}/unit/profiles/plugin/alloc_plugin.cc)
add_dependencies(cpprof_${m}_tests cpprof_test_alloc_plugin)
target_compile_definitions(cpprof_${m}_tests PRIVATE
  CPPROF_TEST_ALLOC_PLUGIN="$<TARGET_FILE:cpprof_test_alloc_plugin>")
# A module the heap tests open with RTLD_DEEPBIND (it binds glibc's free).
add_library(cpprof_test_deepbind_plugin MODULE ${CMAKE_CURRENT_SOURCE_DIR}/unit/profiles/plugin/deepbind_plugin.cc)
add_dependencies(cpprof_${m}_tests cpprof_test_deepbind_plugin)
target_compile_definitions(cpprof_${m}_tests PRIVATE
  CPPROF_TEST_DEEPBIND_PLUGIN="$<TARGET_FILE:cpprof_test_deepbind_plugin>")
