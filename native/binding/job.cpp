#include "binding/job.h"

#include <exception>
#include <new>
#include <string>

#include "core/error.h"

namespace sr::binding {

namespace {

Napi::Error make_js_error(Napi::Env env, ErrorKind kind, const std::string& msg) {
  switch (kind) {
    case ErrorKind::Type: return Napi::TypeError::New(env, msg);
    case ErrorKind::Range: return Napi::RangeError::New(env, msg);
    default: return Napi::Error::New(env, msg);
  }
}

// Classifies the exception in flight.
void classify(std::exception_ptr e, ErrorKind* kind, std::string* msg) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    *kind = err.kind();
    *msg = err.what();
  } catch (const std::bad_alloc&) {
    *kind = ErrorKind::Range;
    *msg = "out of host memory";
  } catch (const std::exception& err) {
    *kind = ErrorKind::Runtime;
    *msg = err.what();
  } catch (...) {
    *kind = ErrorKind::Runtime;
    *msg = "unknown native error";
  }
}

class AsyncJob : public Napi::AsyncWorker {
 public:
  AsyncJob(Napi::Env env, std::unique_ptr<Job> job)
      : Napi::AsyncWorker(env, "stable-reinforce:kernel"),
        job_(std::move(job)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      job_->execute();
    } catch (...) {
      error_ = std::current_exception();
      SetError("native job failed");  // routes to OnError
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(job_->result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      ErrorKind kind;
      std::string msg;
      classify(std::current_exception(), &kind, &msg);
      deferred_.Reject(make_js_error(env, kind, msg).Value());
    }
  }

  void OnError(const Napi::Error&) override {
    ErrorKind kind;
    std::string msg;
    classify(error_, &kind, &msg);
    deferred_.Reject(make_js_error(Env(), kind, msg).Value());
  }

 private:
  std::unique_ptr<Job> job_;
  Napi::Promise::Deferred deferred_;
  std::exception_ptr error_;
};

}  // namespace

void rethrow_as_js(Napi::Env env) {
  ErrorKind kind;
  std::string msg;
  classify(std::current_exception(), &kind, &msg);
  throw make_js_error(env, kind, msg);
}

Napi::Value run_job(Napi::Env env, std::unique_ptr<Job> job, bool async) {
  if (async) {
    auto* worker = new AsyncJob(env, std::move(job));  // deletes itself when done
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  }
  job->execute();
  return job->result(env);
}

namespace {
struct FunctionData {
  Napi::Value (*body)(const Napi::CallbackInfo&);
};
}  // namespace

Napi::Function make_function(Napi::Env env, const char* name, Napi::Value (*body)(const Napi::CallbackInfo&)) {
  auto* data = new FunctionData{body};  // lives as long as the addon
  return Napi::Function::New(
      env,
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        auto* d = static_cast<FunctionData*>(info.Data());
        try {
          return d->body(info);
        } catch (const Napi::Error&) {
          throw;
        } catch (...) {
          rethrow_as_js(info.Env());
        }
      },
      name, data);
}

}  // namespace sr::binding
