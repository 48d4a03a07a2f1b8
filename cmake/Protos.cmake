# Generates C++ for the canonical protocol definitions (DESIGN.md, decision 2).
# By default the sources are fetched into the build tree by scripts/fetch-proto-sources;
# AGENT_XDS_PROTO_ROOT / AGENT_ETCD_PROTO_ROOT point at another checkout of the same definitions.

# The sanitizer builds reuse the plain build's generated library (AGENT_PROTOS_FROM=<that build tree>)
# instead of generating and compiling ~150 files again under each sanitizer: protobuf's installed
# headers do not change with the sanitizers (PROTOBUF_ASAN/TSAN are defined but used by nothing
# they inline), so uninstrumented generated code links with instrumented code exactly as Debian's
# uninstrumented libprotobuf does. What is lost: ASan does not check accesses made inside the
# generated code itself (it still checks every allocation and every libc call it makes).
set(AGENT_PROTOS_FROM "" CACHE PATH "A build tree whose libagent_protos.so and generated/ to reuse")
if(AGENT_PROTOS_FROM)
  if(NOT EXISTS "${AGENT_PROTOS_FROM}/libagent_protos.so")
    message(FATAL_ERROR "AGENT_PROTOS_FROM=${AGENT_PROTOS_FROM} holds no libagent_protos.so: "
                        "build it first (ninja -C ${AGENT_PROTOS_FROM} agent_protos)")
  endif()
  add_library(agent_protos SHARED IMPORTED GLOBAL)
  set_target_properties(agent_protos PROPERTIES
    IMPORTED_LOCATION "${AGENT_PROTOS_FROM}/libagent_protos.so"
    INTERFACE_INCLUDE_DIRECTORIES "${AGENT_PROTOS_FROM}/generated"
    INTERFACE_LINK_LIBRARIES "protobuf::libprotobuf;gRPC::grpc++")
  message(STATUS "protocol definitions: reusing ${AGENT_PROTOS_FROM}/libagent_protos.so")
  return()
endif()

set(AGENT_PROTO_CACHE "${CMAKE_BINARY_DIR}/_deps" CACHE PATH "Where fetched protocol sources are kept")
set(AGENT_XDS_PROTO_ROOT "" CACHE PATH "Folder holding envoy-api/, xds/, googleapis/, protoc-gen-validate/")
set(AGENT_ETCD_PROTO_ROOT "" CACHE PATH "Folder holding go.etcd.io/etcd/ and github.com/gogo/protobuf/")

if(NOT AGENT_XDS_PROTO_ROOT OR NOT AGENT_ETCD_PROTO_ROOT)
  execute_process(
    COMMAND "${CMAKE_SOURCE_DIR}/scripts/fetch-proto-sources" "${AGENT_PROTO_CACHE}"
    RESULT_VARIABLE fetch_result)
  if(NOT fetch_result EQUAL 0)
    message(FATAL_ERROR "fetching protocol definitions failed (see above); run scripts/setup first")
  endif()
endif()
if(NOT AGENT_XDS_PROTO_ROOT)
  set(AGENT_XDS_PROTO_ROOT "${AGENT_PROTO_CACHE}/grpc-js-xds/package/deps")
endif()
if(NOT AGENT_ETCD_PROTO_ROOT)
  set(AGENT_ETCD_PROTO_ROOT "${AGENT_PROTO_CACHE}/debs/usr/share/gocode/src")
endif()

set(gen_dir "${CMAKE_BINARY_DIR}/generated")
set(patched_dir "${CMAKE_BINARY_DIR}/proto-patched")
file(MAKE_DIRECTORY "${gen_dir}" "${patched_dir}/validate")

# The npm package's validate.proto is older than its envoy-api: envoy uses `ignore_empty` on rule
# messages that lack it. Adding the optional field to every *Rules message makes protoc accept the
# envoy tree unchanged (the option values are never read by the agent).
file(READ "${AGENT_XDS_PROTO_ROOT}/protoc-gen-validate/validate/validate.proto" validate_src)
if(NOT validate_src MATCHES "ignore_empty")
  string(REGEX REPLACE "\nmessage ([A-Za-z0-9]+Rules) {"
         "\nmessage \\1 {\n    optional bool ignore_empty = 1000;" validate_src "${validate_src}")
endif()
file(WRITE "${patched_dir}/validate/validate.proto.new" "${validate_src}")
file(COPY_FILE "${patched_dir}/validate/validate.proto.new" "${patched_dir}/validate/validate.proto" ONLY_IF_DIFFERENT)

set(xds_include_dirs
  "${patched_dir}"
  "${AGENT_XDS_PROTO_ROOT}/envoy-api"
  "${AGENT_XDS_PROTO_ROOT}/xds"
  "${AGENT_XDS_PROTO_ROOT}/googleapis")
set(etcd_include_dirs
  "${AGENT_ETCD_PROTO_ROOT}/go.etcd.io"
  "${AGENT_ETCD_PROTO_ROOT}/github.com/gogo/protobuf"
  "${AGENT_XDS_PROTO_ROOT}/googleapis")

# The roots the agent needs; everything they import is generated too, nothing else.
set(xds_roots
  envoy/service/discovery/v3/ads.proto
  envoy/config/listener/v3/listener.proto
  envoy/config/route/v3/route.proto
  envoy/config/cluster/v3/cluster.proto
  envoy/config/endpoint/v3/endpoint.proto
  envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
  envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
  envoy/extensions/filters/http/router/v3/router.proto
  envoy/extensions/transport_sockets/tls/v3/tls.proto
  envoy/extensions/upstreams/http/v3/http_protocol_options.proto
  envoy/extensions/filters/http/fault/v3/fault.proto
  envoy/extensions/filters/http/cors/v3/cors.proto)
set(etcd_roots
  etcd/etcdserver/etcdserverpb/rpc.proto)
set(grpc_service_protos
  envoy/service/discovery/v3/ads.proto
  etcd/etcdserver/etcdserverpb/rpc.proto)

# Computes the import closure of ROOTS (relative paths, library-provided google/protobuf excluded).
function(agent_proto_closure out_var name include_dirs roots)
  set(agg "${CMAKE_BINARY_DIR}/proto-closure/${name}_closure.proto")
  set(content "syntax = \"proto3\";\n")
  foreach(r IN LISTS roots)
    string(APPEND content "import \"${r}\";\n")
  endforeach()
  file(WRITE "${agg}" "${content}")
  set(args)
  foreach(d IN LISTS include_dirs)
    list(APPEND args "-I${d}")
  endforeach()
  execute_process(
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} "-I${CMAKE_BINARY_DIR}/proto-closure" ${args}
            "--dependency_out=${agg}.d" "-o${agg}.pb" "${agg}"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "protoc could not resolve the ${name} protocol closure:\n${err}")
  endif()
  file(READ "${agg}.d" deps)
  string(REGEX MATCHALL "[^ \t\n\\\\:]+\\.proto" deps "${deps}")
  set(result)
  foreach(dep IN LISTS deps)
    if(dep STREQUAL agg)
      continue()
    endif()
    foreach(d IN LISTS include_dirs)
      string(FIND "${dep}" "${d}/" pos)
      if(pos EQUAL 0)
        string(LENGTH "${d}/" len)
        string(SUBSTRING "${dep}" ${len} -1 rel)
        list(APPEND result "${rel}")
        break()
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES result)
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()

agent_proto_closure(xds_closure xds "${xds_include_dirs}" "${xds_roots}")
agent_proto_closure(etcd_closure etcd "${etcd_include_dirs}" "${etcd_roots}")
list(APPEND etcd_closure etcd/mvcc/mvccpb/kv.proto etcd/auth/authpb/auth.proto)
# googleapis files appear in both closures; generate them once.
list(REMOVE_ITEM etcd_closure ${xds_closure})
list(REMOVE_DUPLICATES etcd_closure)

function(agent_generate_protos out_srcs include_dirs files)
  set(args)
  set(inputs)
  set(srcs)
  set(grpc_files)
  foreach(d IN LISTS include_dirs)
    list(APPEND args "-I${d}")
  endforeach()
  foreach(f IN LISTS files)
    string(REGEX REPLACE "\\.proto$" "" stem "${f}")
    list(APPEND srcs "${gen_dir}/${stem}.pb.cc" "${gen_dir}/${stem}.pb.h")
    foreach(d IN LISTS include_dirs)
      if(EXISTS "${d}/${f}")
        list(APPEND inputs "${d}/${f}")
        break()
      endif()
    endforeach()
    if(f IN_LIST grpc_service_protos)
      list(APPEND grpc_files "${f}")
      list(APPEND srcs "${gen_dir}/${stem}.grpc.pb.cc" "${gen_dir}/${stem}.grpc.pb.h")
    endif()
  endforeach()
  set(grpc_cmd)
  if(grpc_files)
    set(grpc_cmd COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${args} "--grpc_out=${gen_dir}"
        "--plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>" ${grpc_files})
  endif()
  add_custom_command(
    OUTPUT ${srcs}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${args} "--cpp_out=${gen_dir}" ${files}
    ${grpc_cmd}
    DEPENDS ${inputs}
    COMMENT "Generating C++ from protocol definitions"
    VERBATIM)
  set(${out_srcs} "${srcs}" PARENT_SCOPE)
endfunction()

agent_generate_protos(xds_srcs "${xds_include_dirs}" "${xds_closure}")
agent_generate_protos(etcd_srcs "${etcd_include_dirs}" "${etcd_closure}")

list(LENGTH xds_closure xds_count)
list(LENGTH etcd_closure etcd_count)
message(STATUS "protocol definitions: ${xds_count} xDS files from ${AGENT_XDS_PROTO_ROOT}, ${etcd_count} etcd files from ${AGENT_ETCD_PROTO_ROOT}")

# Shared, so every generated descriptor registers itself: the JSON loader must know all linked
# types, including those no agent code references (typed_config of HTTP filters, for example).
add_library(agent_protos SHARED ${xds_srcs} ${etcd_srcs})
target_include_directories(agent_protos SYSTEM PUBLIC "${gen_dir}")
target_link_libraries(agent_protos PUBLIC protobuf::libprotobuf gRPC::grpc++)
target_compile_options(agent_protos PRIVATE -w)
# Generated code is most of the build: it is compiled without debug info (nobody steps through
# it), and in a ThreadSanitizer build that generates its own (without AGENT_PROTOS_FROM) without
# optimisation.
target_compile_options(agent_protos PRIVATE -g0)
if(AGENT_TSAN)
  target_compile_options(agent_protos PRIVATE -O0)
endif()
