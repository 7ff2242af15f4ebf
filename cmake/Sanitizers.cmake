# PDM_SANITIZE: "" | "address" (ASan + UBSan) | "thread" (TSan) | "fuzzer" (clang: libFuzzer
# coverage with ASan + UBSan; the fuzz/ targets)
set(PDM_SANITIZE "" CACHE STRING "Sanitizer build: address, thread or fuzzer")
if(PDM_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(PDM_SANITIZE STREQUAL "thread")
  # -Wno-tsan: Boost.Asio's scheduler uses std::atomic_thread_fence, which GCC warns TSan does not
  # model; the server's TSan test (serving_test) runs on it regardless.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(PDM_SANITIZE STREQUAL "fuzzer")
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PDM_SANITIZE=fuzzer needs clang (the fuzz preset sets it)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT PDM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PDM_SANITIZE must be empty, address, thread or fuzzer")
endif()
if(PDM_BUILD_TESTS)
  include(GoogleTest)
endif()
