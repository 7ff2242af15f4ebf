// A seeded random source whose output is the same on every platform and standard library:
// std::mt19937_64 is specified bit for bit, the std:: distributions are not, so the
// distributions here are written out (uniform from 53 bits, normal by Marsaglia's polar method).
// Not thread-safe: one per machine being simulated.
#ifndef PDM_SIM_RANDOM_H_
#define PDM_SIM_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <random>

namespace pdm::sim {

// SplitMix64: turns (seed, stream) into well-mixed independent seeds.
inline uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform() * static_cast<double>(hi - lo + 1));
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * Uniform() - 1.0;
      v = 2.0 * Uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  double LogNormal(double mu, double sigma) { return std::exp(Normal(mu, sigma)); }
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace pdm::sim

#endif  // PDM_SIM_RANDOM_H_
