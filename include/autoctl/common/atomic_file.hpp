#pragma once
// Whole-file reads, and crash-safe whole-file writes.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "autoctl/common/error.hpp"

namespace autoctl::common {

// Replaces `path` with `contents` so that a reader (or a crash) sees either the old file or the
// new one, never a mix: write a temporary file in the same directory, fsync it, rename it over
// `path`, then fsync the directory. The file gets `mode` (not filtered by the umask). On failure
// the temporary file is removed, the old file is left as it was, and Error{kind} is thrown naming
// the path and the system error.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents, mode_t mode = 0644,
                       ErrorKind kind = ErrorKind::Internal);

// Reads a whole file. A missing or unreadable file throws Error{kind} naming the path.
std::string read_text_file(const std::filesystem::path& path, ErrorKind kind = ErrorKind::Internal);

}  // namespace autoctl::common
