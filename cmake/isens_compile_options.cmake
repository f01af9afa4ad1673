# isens_target_defaults(<target>): the warning and sanitizer flags every isens
# target shares. Applied per target, never globally, so embedding projects
# keep their own flags.
function(isens_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  # GCC 12 false positives: Asio's coroutine frame allocator reads as a
  # mismatched new/delete pair, and std::string appends at -O3 trip -Wrestrict.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete -Wno-restrict)
    # A unity build (CI presets) includes .cpp files into one another, and GCC
    # then takes an anonymous-namespace type used in an included file's
    # templates for one leaking out of a header.
    get_target_property(unity ${target} UNITY_BUILD)
    if(unity)
      target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
    endif()
  endif()
  if(ISENS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ISENS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${ISENS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    # UBSan's vptr check instruments every member access and costs a quarter
    # of the ASan build's compile time. ASan still catches calls on freed
    # objects; a call through a wrong or destroyed type in live memory goes
    # unchecked. CI time is a budget (docs/design-notes.md).
    if(ISENS_SANITIZE MATCHES "undefined")
      target_compile_options(${target} PRIVATE -fno-sanitize=vptr)
    endif()
    # GCC 12 warns that TSan does not model Asio's atomic_thread_fence; the
    # fences there pair with atomics TSan does see.
    if(ISENS_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
    target_link_options(${target} PRIVATE -fsanitize=${ISENS_SANITIZE})
  endif()
endfunction()
