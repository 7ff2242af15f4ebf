# pdm_library(NAME <module> SRCS ... DEPS ... [TESTS ...])
# Declares the module target pdm_<module> (alias pdm::<module>) and one gtest binary per module
# from its *_test.cc files. The DEPS lists make the module graph reviewable.
set(PDM_WARNINGS -Wall -Wextra -Wpedantic)
if(PDM_WERROR)
  list(APPEND PDM_WARNINGS -Werror)
endif()

function(pdm_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;TESTS;TEST_DEPS" ${ARGN})
  set(target pdm_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(pdm::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${target} PRIVATE ${PDM_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  if(PDM_BUILD_TESTS AND ARG_TESTS)
    set(test_target ${ARG_NAME}_test)
    add_executable(${test_target} ${ARG_TESTS})
    target_compile_options(${test_target} PRIVATE ${PDM_WARNINGS})
    target_link_libraries(${test_target} PRIVATE ${target} ${ARG_TEST_DEPS} GTest::gtest_main GTest::gmock)
    target_compile_definitions(${test_target} PRIVATE
      PDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      PDM_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
    gtest_discover_tests(${test_target} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()
endfunction()
