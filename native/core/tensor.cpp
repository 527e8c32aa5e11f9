#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/host_allocator.h"
#include "cuda/runtime.h"

namespace sr {

Storage::Storage(Device device, size_t bytes) : bytes_(bytes), device_(device) {
  if (device == Device::CPU) {
    ptr_ = host_alloc(bytes);
  } else {
    ptr_ = cuda::device_alloc(bytes ? bytes : 1);
  }
}

Storage::~Storage() {
  if (!ptr_) return;
  if (device_ == Device::CPU) {
    host_free(ptr_, bytes_);
  } else {
    cuda::device_free(ptr_);
  }
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Tensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor empty_tensor(const std::vector<int64_t>& shape, DType dtype, Device device) {
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  t.storage = std::make_shared<Storage>(device, static_cast<size_t>(t.numel()) * dtype_size(dtype));
  return t;
}

void copy_from_host(Tensor& dst, const void* src, size_t bytes) {
  if (bytes != dst.bytes()) throw_range("copy_from_host: size mismatch");
  if (bytes == 0) return;
  if (dst.device() == Device::CPU) {
    std::memcpy(dst.storage->data(), src, bytes);
  } else {
    cuda::copy_host_to_device(dst.storage->data(), src, bytes);
  }
}

void copy_to_host(const Tensor& src, void* dst, size_t bytes) {
  if (bytes != src.bytes()) throw_range("copy_to_host: size mismatch");
  if (bytes == 0) return;
  if (src.device() == Device::CPU) {
    std::memcpy(dst, src.storage->data(), bytes);
  } else {
    cuda::copy_device_to_host(dst, src.storage->data(), bytes);
  }
}

Tensor copy_to_device(const Tensor& src, Device device) {
  Tensor out = empty_tensor(src.shape, src.dtype, device);
  const size_t bytes = src.bytes();
  if (bytes == 0) return out;
  if (src.device() == Device::CPU && device == Device::CPU) {
    std::memcpy(out.storage->data(), src.storage->data(), bytes);
  } else if (src.device() == Device::CPU) {
    cuda::copy_host_to_device(out.storage->data(), src.storage->data(), bytes);
  } else if (device == Device::CPU) {
    cuda::copy_device_to_host(out.storage->data(), src.storage->data(), bytes);
  } else {
    cuda::copy_device_to_device(out.storage->data(), src.storage->data(), bytes);
  }
  return out;
}

}  // namespace sr
