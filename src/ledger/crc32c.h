// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI,
// ext4 and LevelDB. Table-driven; CRC32C("123456789") = 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace seedtune {

uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace seedtune
