#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "model/ops/attention/attention.h"
#include "model/ops/embedding/embedding.h"
#include "model/ops/lm_logprobs/lm_logprobs.h"
#include "model/ops/matmul/matmul.h"
#include "model/ops/rmsnorm/rmsnorm.h"
#include "model/ops/rope/rope.h"
#include "model/ops/swiglu/swiglu.h"

namespace sr::model {

namespace {

// splitmix64: seeds parameters and sampling; tiny and fully reproducible.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {
    const double u = std::max(uniform(), 1e-300), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

template <class T>
void grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

// Y[rows, out] = X[rows, in] W^T  (W is [out, in], the PyTorch Linear layout); beta 1 adds to Y.
void linear(const float* X, const Param& W, float* Y, int64_t rows, float beta = 0.0f) {
  const int64_t out = W.value.shape[0], in = W.value.shape[1];
  gemm_cpu(false, true, rows, out, in, 1.0f, X, in, W.value.data<float>(), in, beta, Y, out);
}
// dX[rows, in] (+)= dY W;  dW += dY^T X
void linear_backward(const float* X, const float* dY, Param& W, float* dX, int64_t rows, float beta_dx) {
  const int64_t out = W.value.shape[0], in = W.value.shape[1];
  if (dX) gemm_cpu(false, false, rows, in, out, 1.0f, dY, out, W.value.data<float>(), in, beta_dx, dX, in);
  gemm_cpu(true, false, out, in, rows, 1.0f, dY, out, X, in, 1.0f, W.grad.data<float>(), in);
}

}  // namespace

void Config::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw_range("invalid model config: " + msg);
  };
  need(d_model >= 1, "dModel must be >= 1");
  need(n_layers >= 1, "nLayers must be >= 1");
  need(n_heads >= 1 && d_model % n_heads == 0, "nHeads must divide dModel");
  need(head_dim() % 2 == 0, "dModel / nHeads (the head size) must be even for RoPE");
  need(n_kv_heads >= 1 && n_heads % n_kv_heads == 0, "nKvHeads must divide nHeads");
  need(d_ff >= 1, "dFF must be >= 1");
  need(patch_size >= 1 && image_size >= patch_size && image_size % patch_size == 0,
       "patchSize must divide imageSize");
  need(max_seq_len > n_patches() + 1, "maxSeqLen must exceed the image tokens + bos");
  need(vocab == kVocab, "vocab must be 260 (256 bytes + bos, eos, pad, image)");
  need(rope_theta > 1, "ropeTheta must be > 1");
  need(norm_eps > 0, "normEps must be > 0");
}

Param& Model::add(const std::string& name, std::vector<int64_t> shape) {
  Param p;
  p.name = name;
  p.value = empty_tensor(shape, DType::F32, Device::CPU);
  p.grad = empty_tensor(shape, DType::F32, Device::CPU);
  std::memset(p.grad.data<float>(), 0, p.grad.bytes());
  p.decay = shape.size() >= 2;
  params_.push_back(std::move(p));
  return params_.back();
}

Model::Model(const Config& cfg, uint64_t seed) : cfg_(cfg) {
  cfg_.validate();
  init_blas_threads();
  const int64_t d = cfg.d_model, V = cfg.vocab, G = cfg.grid();
  params_.reserve(8 + 9 * cfg.n_layers);
  add("model.vision.patch_embed.weight", {d, cfg.patch_dim()});
  add("model.vision.patch_embed.bias", {d});
  add("model.vision.row_embed.weight", {G, d});
  add("model.vision.col_embed.weight", {G, d});
  add("model.embed_tokens.weight", {V, d});
  for (int l = 0; l < cfg.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {d});
    add(p + "self_attn.q_proj.weight", {cfg.q_dim(), d});
    add(p + "self_attn.k_proj.weight", {cfg.kv_dim(), d});
    add(p + "self_attn.v_proj.weight", {cfg.kv_dim(), d});
    add(p + "self_attn.o_proj.weight", {d, cfg.q_dim()});
    add(p + "post_attention_layernorm.weight", {d});
    add(p + "mlp.gate_proj.weight", {cfg.d_ff, d});
    add(p + "mlp.up_proj.weight", {cfg.d_ff, d});
    add(p + "mlp.down_proj.weight", {d, cfg.d_ff});
  }
  add("model.norm.weight", {d});
  add("lm_head.weight", {V, d});
  // Pointers are taken after every add: params_ no longer reallocates.
  size_t i = 0;
  patch_w_ = &params_[i++];
  patch_b_ = &params_[i++];
  row_e_ = &params_[i++];
  col_e_ = &params_[i++];
  embed_ = &params_[i++];
  for (int l = 0; l < cfg.n_layers; ++l) {
    LayerW w;
    w.ln1 = &params_[i++];
    w.q = &params_[i++];
    w.k = &params_[i++];
    w.v = &params_[i++];
    w.o = &params_[i++];
    w.ln2 = &params_[i++];
    w.gate = &params_[i++];
    w.up = &params_[i++];
    w.down = &params_[i++];
    lw_.push_back(w);
  }
  norm_ = &params_[i++];
  lm_head_ = &params_[i++];

  // GPT-2 / Llama style init: N(0, 0.02), the residual outputs scaled by 1/sqrt(2 nLayers); gains 1, bias 0.
  Rng rng(seed * 0x2545F4914F6CDD1Dull + 1);
  const double resid = 0.02 / std::sqrt(2.0 * cfg.n_layers);
  for (auto& p : params_) {
    float* w = p.value.data<float>();
    const int64_t n = p.value.numel();
    const bool gain = p.name.find("norm") != std::string::npos;
    const bool bias = p.name.find(".bias") != std::string::npos;
    const bool out_proj = p.name.find("o_proj") != std::string::npos || p.name.find("down_proj") != std::string::npos;
    for (int64_t j = 0; j < n; ++j)
      w[j] = gain ? 1.0f : bias ? 0.0f : static_cast<float>(rng.normal() * (out_proj ? resid : 0.02));
  }
  rope_tables(cfg.max_seq_len, cfg.head_dim(), cfg.rope_theta, &cos_, &sin_);
}

int64_t Model::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.value.numel();
  return n;
}

void Model::zero_grad() {
  for (auto& p : params_) std::memset(p.grad.data<float>(), 0, p.grad.bytes());
}

void validate_batch(const Config& cfg, const Batch& b, bool need_response) {
  const int64_t B = b.size();
  if (static_cast<int64_t>(b.has_image.size()) != B || static_cast<int64_t>(b.resp_len.size()) != B)
    throw_range("batch description arrays differ in length");
  int64_t total = 0, images = 0;
  for (int64_t i = 0; i < B; ++i) {
    const int64_t len = (b.has_image[i] ? cfg.n_patches() : 0) + b.text_len[i];
    if (b.text_len[i] < 1) throw_range("batch[" + std::to_string(i) + "] has no tokens (bos at least)");
    if (len > cfg.max_seq_len)
      throw_range("batch[" + std::to_string(i) + "] is " + std::to_string(len) + " tokens long (image + text), " +
                  "over maxSeqLen " + std::to_string(cfg.max_seq_len));
    if (b.resp_len[i] < 0 || b.resp_len[i] > b.text_len[i] - 1)
      throw_range("batch[" + std::to_string(i) + "]: response length out of range");
    total += b.text_len[i];
    images += b.has_image[i] ? 1 : 0;
  }
  if (static_cast<int64_t>(b.tokens.size()) != total) throw_range("token count does not match the text lengths");
  for (size_t j = 0; j < b.tokens.size(); ++j)
    if (b.tokens[j] < 0 || b.tokens[j] >= cfg.vocab)
      throw_range("token id " + std::to_string(b.tokens[j]) + " is outside the vocabulary [0, " +
                  std::to_string(cfg.vocab) + ")");
  const int64_t px = static_cast<int64_t>(cfg.image_size) * cfg.image_size * 3;
  if (static_cast<int64_t>(b.images.size()) != images * px)
    throw_range("images hold " + std::to_string(b.images.size()) + " values, expected " + std::to_string(images * px));
}

void Model::layout(const Batch& b, Workspace& ws) const {
  const int64_t B = b.size(), nP = cfg_.n_patches(), H = cfg_.n_heads;
  ws.seq_off.assign(B, 0);
  ws.seq_len.assign(B, 0);
  ws.text_off.assign(B, 0);
  ws.probs_off.assign(B + 1, 0);
  ws.text_rows.clear();
  ws.text_ids.clear();
  ws.image_rows.clear();
  int64_t row = 0, t = 0;
  for (int64_t i = 0; i < B; ++i) {
    const int64_t ni = b.has_image[i] ? nP : 0;
    ws.seq_off[i] = row;
    ws.seq_len[i] = ni + b.text_len[i];
    ws.text_off[i] = t;
    ws.probs_off[i + 1] = ws.probs_off[i] + H * ws.seq_len[i] * ws.seq_len[i];
    if (ni) ws.image_rows.push_back(row);
    for (int64_t j = 0; j < b.text_len[i]; ++j) {
      ws.text_rows.push_back(row + ni + j);
      ws.text_ids.push_back(b.tokens[t + j]);
    }
    row += ws.seq_len[i];
    t += b.text_len[i];
  }
  ws.rows = row;
  ws.pos.resize(row);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < ws.seq_len[i]; ++j) ws.pos[ws.seq_off[i] + j] = static_cast<int32_t>(j);
}

void Model::forward_hidden(const Batch& b, Workspace& ws, KvCache* cache, const std::vector<int64_t>* slots) {
  layout(b, ws);
  const int64_t N = ws.rows, d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), F = cfg_.d_ff;
  const int64_t nP = cfg_.n_patches(), pd = cfg_.patch_dim();
  const float eps = static_cast<float>(cfg_.norm_eps);
  ws.layers.resize(cfg_.n_layers);
  for (auto& A : ws.layers) {
    grow(A.x, N * d), grow(A.inv1, N), grow(A.h1, N * d), grow(A.q, N * qd), grow(A.k, N * kvd), grow(A.v, N * kvd);
    grow(A.probs, ws.probs_off.back()), grow(A.att, N * qd), grow(A.xmid, N * d), grow(A.inv2, N);
    grow(A.h2, N * d), grow(A.g, N * F), grow(A.u, N * F), grow(A.a, N * F);
  }
  grow(ws.xf, N * d), grow(ws.invf, N), grow(ws.hf, N * d);

  // Embeddings: text rows from embed_tokens, image rows from the patch embedding.
  float* x0 = ws.layers[0].x.data();
  embed_rows_cpu(embed_->value.data<float>(), ws.text_ids.data(), ws.text_rows.data(),
                 static_cast<int64_t>(ws.text_rows.size()), d, x0);
  const int64_t n_img = static_cast<int64_t>(ws.image_rows.size());
  grow(ws.patches, n_img * nP * pd);
  const int64_t px = static_cast<int64_t>(cfg_.image_size) * cfg_.image_size * 3;
  for (int64_t i = 0; i < n_img; ++i) {
    float* pt = ws.patches.data() + i * nP * pd;
    extract_patches_cpu(b.images.data() + i * px, cfg_.image_size, cfg_.patch_size, pt);
    float* y = x0 + ws.image_rows[i] * d;
    linear(pt, *patch_w_, y, nP);
    patch_embed_add_cpu(y, patch_b_->value.data<float>(), row_e_->value.data<float>(), col_e_->value.data<float>(),
                        cfg_.grid(), d);
  }

  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim()));
  for (int l = 0; l < cfg_.n_layers; ++l) {
    LayerActs& A = ws.layers[l];
    const LayerW& W = lw_[l];
    float* x_next = l + 1 < cfg_.n_layers ? ws.layers[l + 1].x.data() : ws.xf.data();
    rmsnorm_forward_cpu(A.x.data(), W.ln1->value.data<float>(), A.h1.data(), A.inv1.data(), N, d, eps);
    linear(A.h1.data(), *W.q, A.q.data(), N);
    linear(A.h1.data(), *W.k, A.k.data(), N);
    linear(A.h1.data(), *W.v, A.v.data(), N);
    rope_apply_cpu(A.q.data(), ws.pos.data(), N, cfg_.n_heads, cfg_.head_dim(), qd, cos_.data(), sin_.data(), false);
    rope_apply_cpu(A.k.data(), ws.pos.data(), N, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.data(), sin_.data(),
                   false);
    for (int64_t i = 0; i < b.size(); ++i) {
      const int64_t o = ws.seq_off[i], L = ws.seq_len[i];
      AttentionShape s{L, L, cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim(), qd, kvd, scale};
      attention_forward_cpu(s, A.q.data() + o * qd, A.k.data() + o * kvd, A.v.data() + o * kvd, A.att.data() + o * qd,
                            A.probs.data() + ws.probs_off[i]);
      if (cache) {
        const int64_t slot = (*slots)[i];
        std::memcpy(cache->kp(l, slot), A.k.data() + o * kvd, sizeof(float) * L * kvd);
        std::memcpy(cache->vp(l, slot), A.v.data() + o * kvd, sizeof(float) * L * kvd);
      }
    }
    std::memcpy(A.xmid.data(), A.x.data(), sizeof(float) * N * d);
    linear(A.att.data(), *W.o, A.xmid.data(), N, 1.0f);
    rmsnorm_forward_cpu(A.xmid.data(), W.ln2->value.data<float>(), A.h2.data(), A.inv2.data(), N, d, eps);
    linear(A.h2.data(), *W.gate, A.g.data(), N);
    linear(A.h2.data(), *W.up, A.u.data(), N);
    swiglu_forward_cpu(A.g.data(), A.u.data(), A.a.data(), N * F);
    std::memcpy(x_next, A.xmid.data(), sizeof(float) * N * d);
    linear(A.a.data(), *W.down, x_next, N, 1.0f);
  }
  rmsnorm_forward_cpu(ws.xf.data(), norm_->value.data<float>(), ws.hf.data(), ws.invf.data(), N, d, eps);
}

void Model::lm_head(const Workspace& ws, const std::vector<int64_t>& rows, std::vector<float>* hr,
                    std::vector<float>* logits) const {
  const int64_t M = static_cast<int64_t>(rows.size()), d = cfg_.d_model;
  grow(*hr, M * d);
  grow(*logits, M * cfg_.vocab);
  for (int64_t m = 0; m < M; ++m) std::memcpy(hr->data() + m * d, ws.hf.data() + rows[m] * d, sizeof(float) * d);
  linear(hr->data(), *lm_head_, logits->data(), M);
}

ForwardResult Model::forward(const Batch& b, float temperature, bool entropy, bool save) {
  validate_batch(cfg_, b, true);
  Workspace local;
  Workspace& ws = save ? train_ : local;
  if (save) train_.saved = false;  // a no-grad call leaves the saved activations usable
  forward_hidden(b, ws, nullptr, nullptr);
  const int64_t B = b.size();
  int64_t T = 0;
  for (int64_t i = 0; i < B; ++i) T = std::max<int64_t>(T, b.resp_len[i]);
  ws.pred_rows.clear(), ws.pred_out.clear(), ws.pred_tok.clear();
  for (int64_t i = 0; i < B; ++i) {
    const int64_t first = ws.seq_len[i] - b.resp_len[i];  // position of the first response token
    const int64_t tfirst = ws.text_off[i] + b.text_len[i] - b.resp_len[i];
    for (int64_t j = 0; j < b.resp_len[i]; ++j) {
      ws.pred_rows.push_back(ws.seq_off[i] + first + j - 1);
      ws.pred_out.push_back(i * T + j);
      ws.pred_tok.push_back(b.tokens[tfirst + j]);
    }
  }
  lm_head(ws, ws.pred_rows, &ws.hr, &ws.logits);
  const int64_t M = static_cast<int64_t>(ws.pred_rows.size());
  std::vector<float> lp(M), ent(entropy ? M : 0);
  lm_logprobs_forward_cpu(ws.logits.data(), ws.pred_tok.data(), M, cfg_.vocab, temperature, lp.data(),
                          entropy ? ent.data() : nullptr);
  ForwardResult r;
  r.B = B, r.T = T;
  r.logprobs.assign(B * T, 0.0f);
  r.mask.assign(B * T, 0);
  if (entropy) r.entropy.assign(B * T, 0.0f);
  r.has_entropy = entropy;
  for (int64_t m = 0; m < M; ++m) {
    r.logprobs[ws.pred_out[m]] = lp[m];
    r.mask[ws.pred_out[m]] = 1;
    if (entropy) r.entropy[ws.pred_out[m]] = ent[m];
  }
  ws.B = B, ws.T = T, ws.temperature = temperature;
  ws.saved = save;
  return r;
}

void Model::backward(const float* grad, int64_t B, int64_t T) {
  Workspace& ws = train_;
  if (!ws.saved) throw_runtime("backward() needs a forward pass first: call logprobs(batch) (with grad enabled)");
  if (B != ws.B || T != ws.T)
    throw_range("gradLogprobs must have shape [" + std::to_string(ws.B) + ", " + std::to_string(ws.T) +
                "] (the last logprobs call), got [" + std::to_string(B) + ", " + std::to_string(T) + "]");
  const int64_t N = ws.rows, d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), F = cfg_.d_ff;
  const int64_t V = cfg_.vocab, M = static_cast<int64_t>(ws.pred_rows.size());

  // LM head.
  std::vector<float> g(M);
  for (int64_t m = 0; m < M; ++m) g[m] = grad[ws.pred_out[m]];
  grow(dlog_, M * V), grow(dhr_, M * d), grow(dx_, N * d), grow(dh_, N * d);
  lm_logprobs_backward_cpu(ws.logits.data(), ws.pred_tok.data(), g.data(), M, V, ws.temperature, dlog_.data());
  linear_backward(ws.hr.data(), dlog_.data(), *lm_head_, dhr_.data(), M, 0.0f);
  std::fill(dh_.begin(), dh_.begin() + N * d, 0.0f);
  for (int64_t m = 0; m < M; ++m) std::memcpy(dh_.data() + ws.pred_rows[m] * d, dhr_.data() + m * d, sizeof(float) * d);
  rmsnorm_backward_cpu(ws.xf.data(), norm_->value.data<float>(), ws.invf.data(), dh_.data(), dx_.data(),
                       norm_->grad.data<float>(), N, d, false);

  grow(dbig_, N * F), grow(du_, N * F), grow(datt_, N * qd), grow(dq_, N * qd), grow(dk_, N * kvd), grow(dv_, N * kvd);
  int64_t max_l = 0;
  for (int64_t i = 0; i < ws.B; ++i) max_l = std::max(max_l, ws.seq_len[i]);
  grow(dscr_, max_l * max_l);
  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim()));
  for (int l = cfg_.n_layers - 1; l >= 0; --l) {
    LayerActs& A = ws.layers[l];
    LayerW& W = lw_[l];
    // x_next = xmid + down(swiglu(gate(h2), up(h2)))
    linear_backward(A.a.data(), dx_.data(), *W.down, dbig_.data(), N, 0.0f);
    swiglu_backward_cpu(A.g.data(), A.u.data(), dbig_.data(), dbig_.data(), du_.data(), N * F);
    linear_backward(A.h2.data(), dbig_.data(), *W.gate, dh_.data(), N, 0.0f);
    linear_backward(A.h2.data(), du_.data(), *W.up, dh_.data(), N, 1.0f);
    rmsnorm_backward_cpu(A.xmid.data(), W.ln2->value.data<float>(), A.inv2.data(), dh_.data(), dx_.data(),
                         W.ln2->grad.data<float>(), N, d, true);
    // xmid = x + o(attention(rope(q(h1)), rope(k(h1)), v(h1)))
    linear_backward(A.att.data(), dx_.data(), *W.o, datt_.data(), N, 0.0f);
    std::fill(dk_.begin(), dk_.begin() + N * kvd, 0.0f);
    std::fill(dv_.begin(), dv_.begin() + N * kvd, 0.0f);
    for (int64_t i = 0; i < ws.B; ++i) {
      const int64_t o = ws.seq_off[i], L = ws.seq_len[i];
      AttentionShape s{L, L, cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim(), qd, kvd, scale};
      attention_backward_cpu(s, A.q.data() + o * qd, A.k.data() + o * kvd, A.v.data() + o * kvd,
                             A.probs.data() + ws.probs_off[i], datt_.data() + o * qd, dq_.data() + o * qd,
                             dk_.data() + o * kvd, dv_.data() + o * kvd, dscr_.data());
    }
    rope_apply_cpu(dq_.data(), ws.pos.data(), N, cfg_.n_heads, cfg_.head_dim(), qd, cos_.data(), sin_.data(), true);
    rope_apply_cpu(dk_.data(), ws.pos.data(), N, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.data(), sin_.data(),
                   true);
    linear_backward(A.h1.data(), dq_.data(), *W.q, dh_.data(), N, 0.0f);
    linear_backward(A.h1.data(), dk_.data(), *W.k, dh_.data(), N, 1.0f);
    linear_backward(A.h1.data(), dv_.data(), *W.v, dh_.data(), N, 1.0f);
    rmsnorm_backward_cpu(A.x.data(), W.ln1->value.data<float>(), A.inv1.data(), dh_.data(), dx_.data(),
                         W.ln1->grad.data<float>(), N, d, true);
  }
  // Embeddings.
  embed_rows_backward_cpu(dx_.data(), ws.text_ids.data(), ws.text_rows.data(),
                          static_cast<int64_t>(ws.text_rows.size()), d, embed_->grad.data<float>());
  const int64_t nP = cfg_.n_patches(), pd = cfg_.patch_dim();
  for (size_t i = 0; i < ws.image_rows.size(); ++i) {
    const float* dy = dx_.data() + ws.image_rows[i] * d;
    linear_backward(ws.patches.data() + static_cast<int64_t>(i) * nP * pd, dy, *patch_w_, nullptr, nP, 0.0f);
    patch_embed_backward_cpu(dy, patch_b_->grad.data<float>(), row_e_->grad.data<float>(), col_e_->grad.data<float>(),
                             cfg_.grid(), d);
  }
}

std::vector<float> Model::logits(const Batch& b, int64_t* lmax) {
  validate_batch(cfg_, b, false);
  Workspace ws;
  forward_hidden(b, ws, nullptr, nullptr);
  int64_t L = 0;
  for (int64_t i = 0; i < b.size(); ++i) L = std::max(L, ws.seq_len[i]);
  std::vector<int64_t> rows(ws.rows);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<float> hr, lg;
  lm_head(ws, rows, &hr, &lg);
  const int64_t V = cfg_.vocab;
  std::vector<float> out(b.size() * L * V, 0.0f);
  for (int64_t i = 0; i < b.size(); ++i)
    std::memcpy(out.data() + i * L * V, lg.data() + ws.seq_off[i] * V, sizeof(float) * ws.seq_len[i] * V);
  *lmax = L;
  return out;
}

void Model::decode_step(KvCache& cache, const std::vector<int64_t>& slots, const std::vector<int32_t>& tokens,
                        const std::vector<int32_t>& positions, std::vector<float>* logits) {
  const int64_t A = static_cast<int64_t>(slots.size()), d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim();
  const int64_t F = cfg_.d_ff;
  const float eps = static_cast<float>(cfg_.norm_eps);
  std::vector<float> x(A * d), h(A * d), inv(A), q(A * qd), k(A * kvd), v(A * kvd), att(A * qd), g(A * F), u(A * F);
  std::vector<float> probs(static_cast<int64_t>(cfg_.n_heads) * cache.cap);
  std::vector<int64_t> rows(A);
  std::iota(rows.begin(), rows.end(), 0);
  embed_rows_cpu(embed_->value.data<float>(), tokens.data(), rows.data(), A, d, x.data());
  const float scale = 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim()));
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const LayerW& W = lw_[l];
    rmsnorm_forward_cpu(x.data(), W.ln1->value.data<float>(), h.data(), inv.data(), A, d, eps);
    linear(h.data(), *W.q, q.data(), A);
    linear(h.data(), *W.k, k.data(), A);
    linear(h.data(), *W.v, v.data(), A);
    rope_apply_cpu(q.data(), positions.data(), A, cfg_.n_heads, cfg_.head_dim(), qd, cos_.data(), sin_.data(), false);
    rope_apply_cpu(k.data(), positions.data(), A, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.data(), sin_.data(),
                   false);
    for (int64_t a = 0; a < A; ++a) {
      const int64_t p = positions[a];
      float* kc = cache.kp(l, slots[a]);
      float* vc = cache.vp(l, slots[a]);
      std::memcpy(kc + p * kvd, k.data() + a * kvd, sizeof(float) * kvd);
      std::memcpy(vc + p * kvd, v.data() + a * kvd, sizeof(float) * kvd);
      AttentionShape s{1, p + 1, cfg_.n_heads, cfg_.n_kv_heads, cfg_.head_dim(), qd, kvd, scale};
      attention_forward_cpu(s, q.data() + a * qd, kc, vc, att.data() + a * qd, probs.data());
    }
    linear(att.data(), *W.o, x.data(), A, 1.0f);
    rmsnorm_forward_cpu(x.data(), W.ln2->value.data<float>(), h.data(), inv.data(), A, d, eps);
    linear(h.data(), *W.gate, g.data(), A);
    linear(h.data(), *W.up, u.data(), A);
    swiglu_forward_cpu(g.data(), u.data(), g.data(), A * F);
    linear(g.data(), *W.down, x.data(), A, 1.0f);
  }
  rmsnorm_forward_cpu(x.data(), norm_->value.data<float>(), h.data(), inv.data(), A, d, eps);
  grow(*logits, A * cfg_.vocab);
  linear(h.data(), *lm_head_, logits->data(), A);
}

namespace {

// Draws a token from row x (logits); returns it and its log-prob at the sampling temperature.
int32_t sample_token(const float* x, int64_t V, double temperature, double top_p, Rng& rng, float* logprob) {
  if (temperature <= 0) {
    int32_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (x[v] > x[best]) best = static_cast<int32_t>(v);
    lm_logprobs_forward_cpu(x, &best, 1, V, 1.0f, logprob, nullptr);
    return best;
  }
  const float it = static_cast<float>(1.0 / temperature);
  const float lse = row_logsumexp(x, V, it);
  std::vector<std::pair<double, int32_t>> p(V);
  for (int64_t v = 0; v < V; ++v) p[v] = {std::exp(static_cast<double>(x[v] * it - lse)), static_cast<int32_t>(v)};
  int64_t keep = V;
  double mass = 1.0;
  if (top_p < 1.0) {
    // Nucleus: the most likely tokens whose mass reaches top_p (ties broken by id, for reproducibility).
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    double c = 0.0;
    for (keep = 0; keep < V;) {
      c += p[keep++].first;
      if (c >= top_p) break;
    }
    mass = c;
  } else {
    mass = 0.0;
    for (auto& e : p) mass += e.first;
  }
  const double r = rng.uniform() * mass;
  double c = 0.0;
  int32_t tok = p[keep - 1].second;
  for (int64_t i = 0; i < keep; ++i) {
    c += p[i].first;
    if (r < c) {
      tok = p[i].second;
      break;
    }
  }
  // The reported log-prob comes from the same code as model.logprobs (tokenLogprobs).
  lm_logprobs_forward_cpu(x, &tok, 1, V, static_cast<float>(temperature), logprob, nullptr);
  return tok;
}

bool ends_with(const std::vector<int32_t>& s, const std::vector<int32_t>& suffix) {
  return !suffix.empty() && s.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), s.rbegin());
}

}  // namespace

std::vector<Sample> Model::generate(const Batch& prompts, const GenerateOptions& opt) {
  validate_batch(cfg_, prompts, false);
  const int64_t P = prompts.size(), S = P * opt.n, V = cfg_.vocab, nP = cfg_.n_patches();
  std::vector<int64_t> plen(P);
  int64_t cap = 0;
  for (int64_t i = 0; i < P; ++i) {
    plen[i] = (prompts.has_image[i] ? nP : 0) + prompts.text_len[i];
    cap = std::max<int64_t>(cap, std::min<int64_t>(plen[i] + opt.max_new, cfg_.max_seq_len));
  }
  std::vector<Sample> out(S);
  std::vector<Rng> rngs;
  for (int64_t s = 0; s < S; ++s) rngs.emplace_back(opt.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(s) * 0xD1B54A32D192ED03ull + 7);

  KvCache cache;
  Workspace ws;
  std::vector<float> hr, lg;
  // Prefill: the prompts once, then copied to each of their n samples' cache slots.
  if (opt.use_cache) {
    cache.layers = cfg_.n_layers, cache.slots = S, cache.cap = cap, cache.kvd = cfg_.kv_dim();
    cache.k.assign(cache.layers * S * cap * cache.kvd, 0.0f);
    cache.v.assign(cache.layers * S * cap * cache.kvd, 0.0f);
    std::vector<int64_t> slots(P);
    for (int64_t i = 0; i < P; ++i) slots[i] = i * opt.n;
    forward_hidden(prompts, ws, &cache, &slots);
    for (int l = 0; l < cfg_.n_layers; ++l)
      for (int64_t i = 0; i < P; ++i)
        for (int j = 1; j < opt.n; ++j) {
          std::memcpy(cache.kp(l, i * opt.n + j), cache.kp(l, i * opt.n), sizeof(float) * plen[i] * cache.kvd);
          std::memcpy(cache.vp(l, i * opt.n + j), cache.vp(l, i * opt.n), sizeof(float) * plen[i] * cache.kvd);
        }
  } else {
    forward_hidden(prompts, ws, nullptr, nullptr);
  }
  std::vector<int64_t> last(P);
  for (int64_t i = 0; i < P; ++i) last[i] = ws.seq_off[i] + ws.seq_len[i] - 1;
  lm_head(ws, last, &hr, &lg);

  std::vector<int64_t> active;
  std::vector<int32_t> next_tok(S), pos(S);
  auto take = [&](int64_t s, const float* row) {
    Sample& smp = out[s];
    float lp;
    const int32_t t = sample_token(row, V, opt.temperature, opt.top_p, rngs[s], &lp);
    smp.tokens.push_back(t);
    smp.logprobs.push_back(lp);
    const int64_t len = plen[s / opt.n] + static_cast<int64_t>(smp.tokens.size());
    if (t == kEos) {
      smp.finish = Finish::Eos;
      return false;
    }
    for (const auto& st : opt.stops)
      if (ends_with(smp.tokens, st)) {
        smp.finish = Finish::Stop;
        return false;
      }
    if (static_cast<int64_t>(smp.tokens.size()) >= opt.max_new || len >= cfg_.max_seq_len) {
      smp.finish = Finish::Length;
      return false;
    }
    next_tok[s] = t;
    pos[s] = static_cast<int32_t>(len - 1);
    return true;
  };
  if (opt.max_new <= 0) return out;
  for (int64_t s = 0; s < S; ++s)
    if (take(s, lg.data() + (s / opt.n) * V)) active.push_back(s);

  while (!active.empty()) {
    const int64_t A = static_cast<int64_t>(active.size());
    if (opt.use_cache) {
      std::vector<int32_t> toks(A), ps(A);
      for (int64_t a = 0; a < A; ++a) toks[a] = next_tok[active[a]], ps[a] = pos[active[a]];
      decode_step(cache, active, toks, ps, &lg);
    } else {
      // Full recomputation: every active sequence re-run from its first token.
      Batch b;
      for (int64_t a = 0; a < A; ++a) {
        const int64_t s = active[a], i = s / opt.n;
        b.has_image.push_back(prompts.has_image[i]);
        const int64_t toff = std::accumulate(prompts.text_len.begin(), prompts.text_len.begin() + i, int64_t(0));
        b.tokens.insert(b.tokens.end(), prompts.tokens.begin() + toff, prompts.tokens.begin() + toff + prompts.text_len[i]);
        b.tokens.insert(b.tokens.end(), out[s].tokens.begin(), out[s].tokens.end());
        b.text_len.push_back(prompts.text_len[i] + static_cast<int32_t>(out[s].tokens.size()));
        b.resp_len.push_back(0);
        if (prompts.has_image[i]) {
          int64_t img = 0;
          for (int64_t j = 0; j < i; ++j) img += prompts.has_image[j];
          const int64_t px = static_cast<int64_t>(cfg_.image_size) * cfg_.image_size * 3;
          b.images.insert(b.images.end(), prompts.images.begin() + img * px, prompts.images.begin() + (img + 1) * px);
        }
      }
      forward_hidden(b, ws, nullptr, nullptr);
      std::vector<int64_t> rows(A);
      for (int64_t a = 0; a < A; ++a) rows[a] = ws.seq_off[a] + ws.seq_len[a] - 1;
      lm_head(ws, rows, &hr, &lg);
    }
    std::vector<int64_t> still;
    for (int64_t a = 0; a < A; ++a)
      if (take(active[a], lg.data() + a * V)) still.push_back(active[a]);
    active.swap(still);
  }
  return out;
}

}  // namespace sr::model
