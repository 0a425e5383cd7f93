// Stable hashing for job identity: the same bytes give the same id on every machine and build.
#ifndef VLMSCALE_CORE_HASH_H_
#define VLMSCALE_CORE_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace vlmscale {

// 64-bit FNV-1a. Stable across platforms and versions (never change it: ids depend on it).
uint64_t Fnv1a64(std::string_view data);

// 16 lowercase hex digits of Fnv1a64(data).
std::string HexId(std::string_view data);

}  // namespace vlmscale

#endif  // VLMSCALE_CORE_HASH_H_
