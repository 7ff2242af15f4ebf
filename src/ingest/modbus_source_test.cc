#include "ingest/modbus_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace pdm::ingest {
namespace {

using ::testing::HasSubstr;

TEST(RegisterMapTest, ParsesEveryKeyAndDefaults) {
  auto map = ParseRegisterMap(R"(
registers:
  - {column: vibration_rms, table: input, address: 10, type: float32, word_order: little}
  - {column: bearing_temperature, address: 3, type: int16, scale: 0.1, offset: -40}
  - {column: rotational_speed, address: 0}
)",
                              "pump.yaml");
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->fields.size(), 3u);
  const RegisterField& v = map->fields[0];
  EXPECT_EQ(v.column, "vibration_rms");
  EXPECT_EQ(v.table, RegisterTable::kInput);
  EXPECT_EQ(v.address, 10);
  EXPECT_EQ(v.type, RegisterType::kFloat32);
  EXPECT_EQ(v.word_order, WordOrder::kLittle);
  EXPECT_EQ(map->fields[1].scale, 0.1);
  EXPECT_EQ(map->fields[1].offset, -40);
  const RegisterField& speed = map->fields[2];
  EXPECT_EQ(speed.table, RegisterTable::kHolding);
  EXPECT_EQ(speed.type, RegisterType::kUInt16);
  EXPECT_EQ(speed.word_order, WordOrder::kBig);
  EXPECT_EQ(speed.scale, 1.0);

  // The list alone is a map too.
  EXPECT_TRUE(ParseRegisterMap("[{column: a, address: 1}]", "x").ok());
}

TEST(RegisterMapTest, RefusesWithFileIndexKeyAndReason) {
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"registers: []", "pump.yaml: registers: expected a list of at least one"},
           {"colour: red", "pump.yaml: colour: unknown key (registers)"},
           {"[{column: a, address: 1, type: float64}]",
            "registers[0].type: 'float64': expected int16"},
           {"[{column: a, address: 1}, {column: b, address: x}]",
            "registers[1].address: expected a register address"},
           {"[{column: a, address: 70000}]", "registers[0].address: 70000"},
           {"[{column: a, address: 65535, type: int32}]", "leaves no room for its second word"},
           {"[{column: a}]", "registers[0].address: missing"},
           {"[{address: 1}]", "registers[0].column: missing"},
           {"[{column: a, address: 1, table: coil}]", "'coil': expected holding or input"},
           {"[{column: a, address: 1, word_order: middle}]", "expected big or little"},
           {"[{column: a, address: 1, scale: 0}]", "scale: expected a finite number other than 0"},
           {"[{column: a, address: 1, unit: 3}]", "registers[0].unit: unknown key"},
           {"[{column: a, address: 1}, {column: a, address: 2}]",
            "registers[1].column: 'a' is read by registers[0] too"},
           {"registers: [{column: a, address: 1", "pump.yaml: "},
       }) {
    auto map = ParseRegisterMap(yaml, "pump.yaml");
    ASSERT_FALSE(map.ok()) << yaml;
    EXPECT_THAT(std::string(map.status().message()), HasSubstr(expected)) << yaml;
  }
  EXPECT_THAT(std::string(LoadRegisterMap("/nonexistent/map.yaml").status().message()),
              HasSubstr("/nonexistent/map.yaml: cannot read"));
}

// Each type and word order. Registers are the 16-bit values as read (the wire's big-endian bytes
// already turned into numbers). Not libmodbus's float helpers: 3.1.6's byte-swap on
// little-endian hosts (fixed in later releases).
TEST(RegisterDecodeTest, TypesWordOrdersScaleAndOffset) {
  uint16_t r[2] = {0, 0};
  RegisterField f;
  f.type = RegisterType::kFloat32;
  r[0] = 0x4050;  // 3.25f is 0x40500000: high word first
  r[1] = 0x0000;
  EXPECT_EQ(DecodeRegisters(f, r), 3.25);
  f.word_order = WordOrder::kLittle;
  r[0] = 0x5000;  // -1234.5f is 0xC49A5000: low word first
  r[1] = 0xC49A;
  EXPECT_EQ(DecodeRegisters(f, r), -1234.5);

  f.type = RegisterType::kInt32;
  f.word_order = WordOrder::kBig;
  r[0] = 0xFFFF;  // -2 as int32, high word first
  r[1] = 0xFFFE;
  EXPECT_EQ(DecodeRegisters(f, r), -2);
  f.word_order = WordOrder::kLittle;
  r[0] = 0x0002;  // 0x00010002 low word first
  r[1] = 0x0001;
  EXPECT_EQ(DecodeRegisters(f, r), 65538);

  f.type = RegisterType::kUInt32;
  f.word_order = WordOrder::kBig;
  r[0] = 0xFFFF;
  r[1] = 0xFFFF;
  EXPECT_EQ(DecodeRegisters(f, r), 4294967295.0);

  f.type = RegisterType::kInt16;
  r[0] = 0xFF38;  // -200
  f.scale = 0.1;
  f.offset = 5;
  EXPECT_NEAR(DecodeRegisters(f, r), -15, 1e-9);
  f.type = RegisterType::kUInt16;
  EXPECT_NEAR(DecodeRegisters(f, r), 65336 * 0.1 + 5, 1e-9);

  // A NaN float stays NaN (the source sends it as null, and the telemetry path refuses it).
  f = {};
  f.type = RegisterType::kFloat32;
  r[0] = 0x7FC0;  // a quiet NaN
  r[1] = 0x0000;
  EXPECT_TRUE(std::isnan(DecodeRegisters(f, r)));
}

TEST(RegisterPlanTest, MergesRunsPerTableWithinTheProtocolLimit) {
  RegisterMap map;
  auto add = [&](RegisterTable table, int address, RegisterType type) {
    RegisterField f;
    f.column = std::to_string(map.fields.size());
    f.table = table;
    f.address = address;
    f.type = type;
    map.fields.push_back(f);
  };
  add(RegisterTable::kHolding, 10, RegisterType::kFloat32);  // 10-11
  add(RegisterTable::kHolding, 0, RegisterType::kUInt16);    // 0
  add(RegisterTable::kHolding, 14, RegisterType::kUInt16);   // gap of 2: same block
  add(RegisterTable::kInput, 0, RegisterType::kInt32);       // other table
  add(RegisterTable::kHolding, 200, RegisterType::kInt16);   // far: its own block
  add(RegisterTable::kHolding, 300, RegisterType::kUInt16);  // 300 and 420: 121 registers, one
  add(RegisterTable::kHolding, 420, RegisterType::kUInt16);  // block... but 200-420 is > 125
  const std::vector<ReadBlock> blocks = PlanReads(map, /*max_gap=*/200);
  // With a gap of 200 allowed, runs still stop at 125 registers.
  for (const ReadBlock& b : blocks) EXPECT_LE(b.count, kMaxRegistersPerRead);
  const std::vector<ReadBlock> tight = PlanReads(map, /*max_gap=*/8);
  ASSERT_EQ(tight.size(), 6u);
  EXPECT_EQ(tight[0].address, 0);
  EXPECT_EQ(tight[0].count, 1);  // 0 .. 10 is a gap of 9 > 8
  EXPECT_EQ(tight[1].address, 10);
  EXPECT_EQ(tight[1].count, 5);  // 10-14
  EXPECT_EQ(tight[2].address, 200);
  EXPECT_EQ(tight[3].address, 300);
  EXPECT_EQ(tight[4].address, 420);
  EXPECT_EQ(tight[5].table, RegisterTable::kInput);
  EXPECT_EQ(tight[5].count, 2);
  // Every field is inside a block of its table.
  for (const RegisterField& f : map.fields) {
    int covering = 0;
    for (const ReadBlock& b : blocks) {
      covering += b.table == f.table && f.address >= b.address &&
                  f.address + RegisterCount(f.type) <= b.address + b.count;
    }
    EXPECT_EQ(covering, 1) << f.column;
  }
}

TEST(ModbusOptionsTest, RefusesDevicesThatCannotBePolled) {
  ModbusSourceOptions o;
  o.name = "line";
  EXPECT_THAT(std::string(ValidateModbusOptions(o).message()), HasSubstr("devices: at least one"));
  ModbusDevice d;
  d.machine = "m1";
  d.host = "127.0.0.1";
  d.registers.fields.push_back({});
  o.devices = {d, d};
  EXPECT_THAT(std::string(ValidateModbusOptions(o).message()),
              HasSubstr("devices[1].machine: 'm1' is polled by devices[0] too"));
  o.devices[1].machine = "m2";
  EXPECT_TRUE(ValidateModbusOptions(o).ok());
  o.devices[1].unit = 256;
  EXPECT_THAT(std::string(ValidateModbusOptions(o).message()), HasSubstr("unit: 256"));
  o.devices[1].unit = 1;
  o.stale_after = 0;
  EXPECT_THAT(std::string(ValidateModbusOptions(o).message()), HasSubstr("stale_after"));
}

}  // namespace
}  // namespace pdm::ingest
