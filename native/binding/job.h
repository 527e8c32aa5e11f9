// How a kernel binding runs its work: parse and validate on the JavaScript
// thread, allocate outputs there, then execute either at once (sync call) or
// on the libuv thread pool (async call, which returns a Promise). execute()
// must not touch N-API; result() builds the JavaScript value on the JS thread.
#pragma once
#include <napi.h>

#include <memory>

namespace sr::binding {

class Job {
 public:
  virtual ~Job() = default;
  virtual void execute() = 0;
  virtual Napi::Value result(Napi::Env env) = 0;
};

Napi::Value run_job(Napi::Env env, std::unique_ptr<Job> job, bool async);

// Wraps a binding body so that sr::Error and std::exception become JavaScript
// exceptions of the right class (TypeError, RangeError, Error).
Napi::Function make_function(Napi::Env env, const char* name, Napi::Value (*body)(const Napi::CallbackInfo&));

// Throws the JavaScript counterpart of the current C++ exception.
[[noreturn]] void rethrow_as_js(Napi::Env env);

}  // namespace sr::binding

namespace sr::binding {

// A Job from two callables: exec() does the work, result(env) builds the value.
template <class Exec, class Result>
class LambdaJob : public Job {
 public:
  LambdaJob(Exec exec, Result result) : exec_(std::move(exec)), result_(std::move(result)) {}
  void execute() override { exec_(); }
  Napi::Value result(Napi::Env env) override { return result_(env); }

 private:
  Exec exec_;
  Result result_;
};

template <class Exec, class Result>
std::unique_ptr<Job> make_job(Exec exec, Result result) {
  return std::make_unique<LambdaJob<Exec, Result>>(std::move(exec), std::move(result));
}

}  // namespace sr::binding
