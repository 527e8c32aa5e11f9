// Work buffers of the built-in model on its device, so that one orchestration
// (model.cpp) serves the CPU and CUDA.
//
// Buf<T>: grow-only storage. On the CPU it is a std::vector (grow keeps the
// contents and zero-fills new elements, exactly what the CPU path always did);
// on CUDA a device allocation whose contents are NOT kept when it grows: every
// caller writes a buffer before reading it.
// Mirror<T>: a host vector the model fills (indices, layouts) plus, on CUDA, a
// device copy made by upload(); ptr(dev) is the copy the ops of `dev` read.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "cuda/runtime.h"

namespace sr::model {

template <class T>
class Buf {
 public:
  explicit Buf(Device dev = Device::CPU) : dev_(dev) {}
  Device device() const { return dev_; }
  T* data() { return dev_ == Device::CPU ? host_.data() : mem_ ? static_cast<T*>(mem_->data()) : nullptr; }
  const T* data() const {
    return dev_ == Device::CPU ? host_.data() : mem_ ? static_cast<const T*>(mem_->data()) : nullptr;
  }
  int64_t size() const { return dev_ == Device::CPU ? static_cast<int64_t>(host_.size()) : n_; }
  void grow(int64_t n) {
    if (n <= size()) return;
    if (dev_ == Device::CPU) {
      host_.resize(static_cast<size_t>(n));
    } else {
      mem_.reset();  // free first: the old contents are not kept anyway
      mem_ = std::make_unique<Storage>(Device::CUDA, static_cast<size_t>(n) * sizeof(T));
      n_ = n;
    }
  }

 private:
  Device dev_;
  std::vector<T> host_;
  std::unique_ptr<Storage> mem_;
  int64_t n_ = 0;
};

template <class T>
void grow(Buf<T>& b, int64_t n) {
  b.grow(n);
}

template <class T>
struct Mirror : std::vector<T> {
  Buf<T> dev{Device::CUDA};
  // Copies the host contents to the device (synchronous: the host vector may change right after).
  void upload(Device d) {
    if (d != Device::CUDA || this->empty()) return;
    dev.grow(static_cast<int64_t>(this->size()));
    cuda::copy_host_to_device(dev.data(), this->data(), this->size() * sizeof(T));
  }
  const T* ptr(Device d) const { return d == Device::CPU ? this->data() : dev.data(); }
};

}  // namespace sr::model
