#include <gtest/gtest.h>
TEST(Placeholder, Sim) {}
