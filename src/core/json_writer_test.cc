#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pdm::core {
namespace {

TEST(JsonWriterTest, WritesNestedDocument) {
  JsonWriter json;
  json.BeginObject();
  json.Key("a").Int(1);
  json.Key("b").BeginArray().Number(0.5).Bool(true).Null().String("x").EndArray();
  json.Key("c").BeginObject().EndObject();
  json.EndObject();
  EXPECT_EQ(json.str(), R"({"a":1,"b":[0.5,true,null,"x"],"c":{}})");
}

TEST(JsonWriterTest, EscapesStringsAndReplacesInvalidUtf8) {
  std::string out;
  JsonWriter::AppendQuoted("q\"b\\n\n\t\x01 \xC3\xA9 \xFF \xE2\x82", &out);
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\t\\u0001 \xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, NonFiniteNumbersBecomeNull) {
  JsonWriter json;
  json.BeginArray().Number(NAN).Number(INFINITY).Number(1e300).Number(-0.1).EndArray();
  EXPECT_EQ(json.str(), "[null,null,1e+300,-0.1]");
}

TEST(JsonWriterTest, PrettyPrintsWithIndent) {
  JsonWriter json(2);
  json.BeginObject().Key("k").BeginArray().Int(1).EndArray().EndObject();
  EXPECT_EQ(json.str(), "{\n  \"k\": [\n    1\n  ]\n}");
}

}  // namespace
}  // namespace pdm::core
