// Errors raised by native code. The binding layer turns them into JavaScript
// exceptions of the matching class, so a bad argument is a TypeError or
// RangeError naming it, and a CUDA failure is an Error naming the CUDA error and
// the place it happened. Native code never aborts the process on bad input.
#pragma once
#include <stdexcept>
#include <string>

namespace sr {

enum class ErrorKind { Type, Range, Runtime };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throw_type(const std::string& msg) { throw Error(ErrorKind::Type, msg); }
[[noreturn]] inline void throw_range(const std::string& msg) { throw Error(ErrorKind::Range, msg); }
[[noreturn]] inline void throw_runtime(const std::string& msg) { throw Error(ErrorKind::Runtime, msg); }

}  // namespace sr
