#include "ingest/source_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "core/strings.h"
#include "ingest/config_reader.h"

namespace pdm::ingest {
namespace {

namespace fs = std::filesystem;

// The payload keys message sources share (format, machine_tag, time_unit); false for others.
bool ReadDecodeKey(const std::string& key, const YAML::Node& v, EntryReader* r,
                   DecodeOptions* decode) {
  if (key == "format") {
    auto format = ParsePayloadFormat(r->Text(v, key));
    if (!format.ok()) {
      r->Fail(key, std::string(format.status().message()));
    } else {
      decode->format = *format;
    }
  } else if (key == "machine_tag") {
    decode->machine_tag = r->Text(v, key);
  } else if (key == "time_unit") {
    const std::map<std::string, double> units = {
        {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}};
    const std::string unit = r->Text(v, key);
    if (auto it = units.find(unit); it != units.end()) {
      decode->time_unit = it->second;
    } else {
      r->Fail(key, core::StrCat("'", unit, "': expected ns, us, ms or s"));
    }
  } else {
    return false;
  }
  return true;
}

absl::Status ParseMqtt(const std::string& path, const YAML::Node& entry, size_t index,
                       EntryReader* r, SourcesConfig* out) {
  MqttSourceOptions o;
  o.name = core::StrCat("mqtt-", index);
  absl::Status read = r->Read(
      entry,
      "type, name, url, topics, client_id, qos, clean_session, machine_level, format, "
      "machine_tag, time_unit, dead_letter_topic, username, password_env, ca_file, max_payload",
      [&](const std::string& key, const YAML::Node& v) {
        if (key == "name") {
          o.name = r->Text(v, key);
        } else if (key == "url") {
          o.url = r->Text(v, key);
        } else if (key == "topics") {
          r->List(v, key, &o.topics);
        } else if (key == "client_id") {
          o.client_id = r->Text(v, key);
        } else if (key == "qos") {
          r->Number(v, key, &o.qos);
        } else if (key == "clean_session") {
          r->Bool(v, key, &o.clean_session);
        } else if (key == "machine_level") {
          int level = 0;
          r->Number(v, key, &level);
          o.machine_level = level;
        } else if (ReadDecodeKey(key, v, r, &o.decode)) {
        } else if (key == "dead_letter_topic") {
          o.dead_letter_topic = r->Text(v, key);
        } else if (key == "username") {
          o.username = r->Text(v, key);
        } else if (key == "password_env") {
          r->PasswordFromEnvironment(v, key, &o.password);
        } else if (key == "ca_file") {
          o.ca_file = r->Text(v, key);
        } else if (key == "max_payload") {
          r->Number(v, key, &o.max_payload);
        } else {
          return false;
        }
        return true;
      });
  if (!read.ok()) return read;
  if (absl::Status valid = ValidateMqttOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->mqtt.push_back(std::move(o));
  return absl::OkStatus();
}

absl::Status ParseKafka(const std::string& path, const YAML::Node& entry, size_t index,
                        EntryReader* r, SourcesConfig* out) {
  KafkaSourceOptions o;
  o.name = core::StrCat("kafka-", index);
  absl::Status read =
      r->Read(entry,
              "type, name, brokers, topics, group_id, format, machine_tag, time_unit, "
              "dead_letter_topic, max_payload, username, password_env, properties",
              [&](const std::string& key, const YAML::Node& v) {
                if (key == "name") {
                  o.name = r->Text(v, key);
                } else if (key == "brokers") {
                  o.brokers = r->Text(v, key);
                } else if (key == "topics") {
                  r->List(v, key, &o.topics);
                } else if (key == "group_id") {
                  o.group_id = r->Text(v, key);
                } else if (ReadDecodeKey(key, v, r, &o.message.decode)) {
                } else if (key == "dead_letter_topic") {
                  o.dead_letter_topic = r->Text(v, key);
                } else if (key == "max_payload") {
                  r->Number(v, key, &o.message.max_payload);
                } else if (!ReadKafkaClientKey(key, v, r, &o.properties)) {
                  return false;
                }
                return true;
              });
  if (!read.ok()) return read;
  if (absl::Status valid = ValidateKafkaOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->kafka.push_back(std::move(o));
  return absl::OkStatus();
}

// A device's or source's register map: a file (relative to server.yaml) or an inline list.
absl::StatusOr<RegisterMap> ReadMap(const fs::path& base, const YAML::Node& v,
                                    const std::string& key, EntryReader* r) {
  if (key == "registers") {
    return ParseRegisterMap(YAML::Dump(v), r->At(key));
  }
  fs::path file = r->Text(v, key);
  if (!r->status().ok()) return r->status();
  if (file.is_relative()) file = base / file;
  return LoadRegisterMap(file.string());
}

absl::Status ParseModbus(const std::string& path, const YAML::Node& entry, size_t index,
                         EntryReader* r, SourcesConfig* out) {
  const fs::path base = fs::path(path).parent_path();
  ModbusSourceOptions o;
  o.name = core::StrCat("modbus-", index);
  std::optional<RegisterMap> shared_map;
  YAML::Node devices;  // a handle to the entry's list (the key loop's values are temporaries)
  bool has_devices = false;
  absl::Status read = r->Read(
      entry,
      "type, name, poll_ms, timeout_ms, retry_max_ms, stale_after, register_map, registers, "
      "devices",
      [&](const std::string& key, const YAML::Node& v) {
        if (key == "name") {
          o.name = r->Text(v, key);
        } else if (key == "poll_ms") {
          r->Millis(v, key, &o.poll_interval);
        } else if (key == "timeout_ms") {
          r->Millis(v, key, &o.timeout);
        } else if (key == "retry_max_ms") {
          r->Millis(v, key, &o.retry_max);
        } else if (key == "stale_after") {
          r->Number(v, key, &o.stale_after);
        } else if (key == "register_map" || key == "registers") {
          auto map = ReadMap(base, v, key, r);
          if (!map.ok()) {
            r->status() = map.status();
          } else {
            shared_map = std::move(*map);
          }
        } else if (key == "devices") {
          if (!v.IsSequence()) r->Fail(key, "expected a list of devices");
          devices = v;
          has_devices = true;
        } else {
          return false;
        }
        return true;
      });
  if (!read.ok()) return read;
  if (!has_devices) return absl::InvalidArgumentError(r->At("devices") + ": missing");
  for (size_t i = 0; i < devices.size(); ++i) {
    const YAML::Node device = devices[i];
    EntryReader d(core::StrCat(r->At("devices"), "[", i, "]"));
    if (!device.IsMap()) return absl::InvalidArgumentError(d.where() + ": expected a mapping");
    ModbusDevice dev;
    bool has_map = false;
    absl::Status device_read = d.Read(device, "machine, host, port, unit, register_map, registers",
                                      [&](const std::string& key, const YAML::Node& v) {
                                        if (key == "machine") {
                                          dev.machine = d.Text(v, key);
                                        } else if (key == "host") {
                                          dev.host = d.Text(v, key);
                                        } else if (key == "port") {
                                          d.Number(v, key, &dev.port);
                                        } else if (key == "unit") {
                                          d.Number(v, key, &dev.unit);
                                        } else if (key == "register_map" || key == "registers") {
                                          auto map = ReadMap(base, v, key, &d);
                                          if (!map.ok()) {
                                            d.status() = map.status();
                                          } else {
                                            dev.registers = std::move(*map);
                                            has_map = true;
                                          }
                                        } else {
                                          return false;
                                        }
                                        return true;
                                      });
    if (!device_read.ok()) return device_read;
    if (!has_map) {
      if (!shared_map) {
        return absl::InvalidArgumentError(
            d.where() + ": no register_map (set one for the device or for the source)");
      }
      dev.registers = *shared_map;
    }
    o.devices.push_back(std::move(dev));
  }
  if (absl::Status valid = ValidateModbusOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->modbus.push_back(std::move(o));
  return absl::OkStatus();
}

}  // namespace

bool ReadKafkaClientKey(const std::string& key, const YAML::Node& v, EntryReader* r,
                        std::map<std::string, std::string>* properties) {
  if (key == "username") {
    (*properties)["sasl.username"] = r->Text(v, key);
  } else if (key == "password_env") {
    r->PasswordFromEnvironment(v, key, &(*properties)["sasl.password"]);
  } else if (key == "properties") {
    if (!v.IsMap()) {
      r->Fail(key, "expected a mapping of librdkafka settings");
    } else {
      for (const auto& p : v) (*properties)[p.first.Scalar()] = r->Text(p.second, key);
    }
  } else {
    return false;
  }
  return true;
}

absl::Status ParseSources(const std::string& path, const YAML::Node& list, SourcesConfig* out) {
  *out = {};
  if (!list.IsSequence()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": sources: expected a list"));
  }
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& entry = list[i];
    EntryReader reader(core::StrCat(path, ": sources[", i, "]"));
    if (!entry.IsMap()) return absl::InvalidArgumentError(reader.where() + ": expected a mapping");
    const std::string type =
        entry["type"] && entry["type"].IsScalar() ? entry["type"].Scalar() : "";
    absl::Status parsed;
    if (type == "mqtt") {
      parsed = ParseMqtt(path, entry, i, &reader, out);
    } else if (type == "modbus") {
      parsed = ParseModbus(path, entry, i, &reader, out);
    } else if (type == "kafka") {
      parsed = ParseKafka(path, entry, i, &reader, out);
    } else {
      return absl::InvalidArgumentError(core::StrCat(
          reader.At("type"), ": '", type, "': expected mqtt, modbus or kafka (docs/ingest.md)"));
    }
    if (!parsed.ok()) return parsed;
    const std::string& name = type == "mqtt"     ? out->mqtt.back().name
                              : type == "modbus" ? out->modbus.back().name
                                                 : out->kafka.back().name;
    if (auto [it, added] = names.emplace(name, i); !added) {
      return absl::InvalidArgumentError(
          core::StrCat(reader.At("name"), ": '", name, "' names sources[", it->second, "] too"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::unique_ptr<Source>> MakeSources(const SourcesConfig& config,
                                                 const TelemetryHandler& handler,
                                                 const StateHandoff& handoff) {
  std::vector<std::unique_ptr<Source>> sources;
  for (const MqttSourceOptions& o : config.mqtt) {
    sources.push_back(std::make_unique<MqttSource>(o, handler));
  }
  for (const ModbusSourceOptions& o : config.modbus) {
    sources.push_back(std::make_unique<ModbusSource>(o, handler));
  }
  for (const KafkaSourceOptions& o : config.kafka) {
    sources.push_back(std::make_unique<KafkaSource>(o, handler, handoff));
  }
  return sources;
}

}  // namespace pdm::ingest
