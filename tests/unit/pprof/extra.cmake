# cpprof_pprof_tests decodes profiles with libprotobuf (test only; the
# library encodes by hand). Code is generated from tests/proto/profile.proto.
pkg_check_modules(CPPROF_PROTOBUF REQUIRED IMPORTED_TARGET protobuf)
find_program(CPPROF_PROTOC protoc REQUIRED)
set(cpprof_proto_src ${PROJECT_SOURCE_DIR}/tests/proto/profile.proto)
set(cpprof_proto_out ${CMAKE_CURRENT_BINARY_DIR}/generated/proto)
add_custom_command(
  OUTPUT ${cpprof_proto_out}/profile.pb.cc ${cpprof_proto_out}/profile.pb.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${cpprof_proto_out}
  COMMAND ${CPPROF_PROTOC} --proto_path=${PROJECT_SOURCE_DIR}/tests/proto
          --cpp_out=${cpprof_proto_out} ${cpprof_proto_src}
  DEPENDS ${cpprof_proto_src}
  COMMENT "protoc profile.proto"
  VERBATIM)
target_sources(cpprof_${m}_tests PRIVATE ${cpprof_proto_out}/profile.pb.cc)
target_include_directories(cpprof_${m}_tests PRIVATE ${cpprof_proto_out})
target_link_libraries(cpprof_${m}_tests PRIVATE PkgConfig::CPPROF_PROTOBUF)
