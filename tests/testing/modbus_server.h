// A Modbus TCP device for tests: libmodbus's own server on 127.0.0.1, on a thread, with holding
// and input registers the test sets. It can stop answering (a hung PLC: requests read, never
// answered) and be stopped and started again on the same port (a PLC restarted).
#ifndef PDM_TESTS_TESTING_MODBUS_SERVER_H_
#define PDM_TESTS_TESTING_MODBUS_SERVER_H_

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>

namespace pdm::testing {

class ModbusServer {
 public:
  static constexpr int kRegisters = 256;  // of each table

  ModbusServer() : mapping_(modbus_mapping_new(0, 0, kRegisters, kRegisters)) {}
  ~ModbusServer() {
    Stop();
    modbus_mapping_free(mapping_);
  }
  ModbusServer(const ModbusServer&) = delete;
  ModbusServer& operator=(const ModbusServer&) = delete;

  // Listens on 127.0.0.1: the port of the first start (0 picks a free one) on every later one.
  bool Start() {
    ctx_ = modbus_new_tcp("127.0.0.1", port_);
    if (ctx_ == nullptr) return false;
    listen_fd_ = modbus_tcp_listen(ctx_, 4);
    if (listen_fd_ < 0) {
      modbus_free(ctx_);
      ctx_ = nullptr;
      return false;
    }
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    stop_ = false;
    thread_ = std::thread([this] { Serve(); });
    return true;
  }

  // Closes the listening socket and every connection: the device is gone.
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    if (client_fd_ >= 0) ::close(client_fd_);
    client_fd_ = -1;
    ::close(listen_fd_);
    listen_fd_ = -1;
    modbus_free(ctx_);
    ctx_ = nullptr;
  }

  uint16_t port() const { return port_; }
  // false: requests are read and dropped, as a hung device does.
  void SetAnswering(bool answering) { answering_ = answering; }
  int64_t requests() const { return requests_; }

  void SetHolding(int address, uint16_t value) { Set(mapping_->tab_registers, address, value); }
  void SetInput(int address, uint16_t value) { Set(mapping_->tab_input_registers, address, value); }
  // A 32-bit pattern in two registers: high word first (big) or second.
  void SetHolding32(int address, uint32_t bits, bool big = true) {
    SetHolding(address, static_cast<uint16_t>(big ? bits >> 16 : bits));
    SetHolding(address + 1, static_cast<uint16_t>(big ? bits : bits >> 16));
  }
  void SetInput32(int address, uint32_t bits, bool big = true) {
    SetInput(address, static_cast<uint16_t>(big ? bits >> 16 : bits));
    SetInput(address + 1, static_cast<uint16_t>(big ? bits : bits >> 16));
  }
  static uint32_t FloatBits(float value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof(bits));
    return bits;
  }

 private:
  void Set(uint16_t* table, int address, uint16_t value) {
    std::lock_guard lock(mu_);
    table[address] = value;
  }

  void Serve() {
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    while (!stop_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {client_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, client_fd_ >= 0 ? 2 : 1, 20);
      if (ready <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        const int accepted = ::accept(listen_fd_, nullptr, nullptr);
        if (accepted >= 0) {
          if (client_fd_ >= 0) ::close(client_fd_);  // one client: the newest
          client_fd_ = accepted;
        }
        continue;
      }
      if (client_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        modbus_set_socket(ctx_, client_fd_);
        const int size = modbus_receive(ctx_, query);
        if (size < 0) {  // the client closed, or sent garbage
          ::close(client_fd_);
          client_fd_ = -1;
          continue;
        }
        if (size == 0) continue;
        ++requests_;
        if (!answering_) continue;
        std::lock_guard lock(mu_);
        modbus_reply(ctx_, query, size, mapping_);
      }
    }
  }

  modbus_mapping_t* const mapping_;
  std::mutex mu_;  // the mapping's registers
  modbus_t* ctx_ = nullptr;
  int listen_fd_ = -1, client_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, answering_{true};
  std::atomic<int64_t> requests_{0};
  std::thread thread_;
};

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_MODBUS_SERVER_H_
