# isens_target_defaults(<target>): the warning and sanitizer flags every isens
# target shares. Applied per target, never globally, so embedding projects
# keep their own flags.
function(isens_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  # GCC 12 misreports Asio's coroutine frame allocator as a mismatched
  # new/delete pair (a known false positive with C++20 coroutines).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
  if(ISENS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ISENS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${ISENS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${ISENS_SANITIZE})
  endif()
endfunction()
