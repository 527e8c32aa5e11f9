// A dense, contiguous, row-major tensor: shared storage on one device, a shape
// and an element type. Storage is reference counted so that work running off
// the JavaScript thread keeps its inputs alive even if the user disposes the
// JavaScript handle meanwhile.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace sr {

class Storage {
 public:
  Storage(Device device, size_t bytes);  // allocates; throws sr::Error on failure
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;

  Device device() const { return storage->device(); }
  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  template <typename T>
  T* data() const {
    return static_cast<T*>(storage->data());
  }
  std::string shape_string() const;  // e.g. "[4, 128]"
};

// New uninitialised tensor on `device`.
Tensor empty_tensor(const std::vector<int64_t>& shape, DType dtype, Device device);

// Copies between host memory and a tensor on any device (synchronous).
void copy_from_host(Tensor& dst, const void* src, size_t bytes);
void copy_to_host(const Tensor& src, void* dst, size_t bytes);
// New tensor with the contents of `src` on `device`.
Tensor copy_to_device(const Tensor& src, Device device);

}  // namespace sr
