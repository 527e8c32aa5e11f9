#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "cuda/runtime.h"
#include "model/ops/dispatch.h"

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

// The first n values of a buffer as host memory: itself on the CPU, a copy in tmp on CUDA.
const float* host_view(const Exec& ex, const Buf<float>& b, int64_t n, std::vector<float>* tmp) {
  if (!ex.cuda()) return b.data();
  tmp->resize(static_cast<size_t>(n));
  if (n > 0) cuda::copy_device_to_host(tmp->data(), b.data(), sizeof(float) * static_cast<size_t>(n));
  return tmp->data();
}

}  // namespace

// Y[rows, out] = X[rows, in] W^T  (W is [out, in], the PyTorch Linear layout); beta 1 adds to Y.
void Model::linear(const float* X, const Param& W, float* Y, int64_t rows, float beta) const {
  const int64_t out = W.value.shape[0], in = W.value.shape[1];
  gemm(ex_, false, true, rows, out, in, 1.0f, X, in, W.value.data<float>(), in, beta, Y, out);
}
// dX[rows, in] (+)= dY W;  dW += dY^T X
void Model::linear_backward(const float* X, const float* dY, Param& W, float* dX, int64_t rows, float beta_dx) const {
  const int64_t out = W.value.shape[0], in = W.value.shape[1];
  if (dX) gemm(ex_, false, false, rows, in, out, 1.0f, dY, out, W.value.data<float>(), in, beta_dx, dX, in);
  gemm(ex_, true, false, out, in, rows, 1.0f, dY, out, X, in, 1.0f, W.grad.data<float>(), in);
}

AttnBatch Model::attn_batch(const Mirror<AttnSeq>& seqs, const Mirror<int32_t>& row_seq, int64_t rows) const {
  AttnBatch b;
  b.heads = cfg_.n_heads;
  b.kv_heads = cfg_.n_kv_heads;
  b.hd = cfg_.head_dim();
  b.q_stride = cfg_.q_dim();
  b.kv_stride = cfg_.kv_dim();
  b.scale = 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim()));
  b.seqs = seqs.data();
  b.n_seqs = static_cast<int64_t>(seqs.size());
  b.seqs_dev = seqs.dev.data();
  b.row_seq_dev = row_seq.dev.data();
  b.rows = rows;
  return b;
}

int64_t Config::parameter_count() const {
  const int64_t d = d_model, hd = d_model / n_heads, q = int64_t{n_heads} * hd, kv = int64_t{n_kv_heads} * hd;
  const int64_t p = patch_size, g = image_size / patch_size;
  const int64_t vision = d * 3 * p * p + d + 2 * g * d;
  const int64_t layer = 2 * d + q * d + 2 * kv * d + d * q + 3 * int64_t{d_ff} * d;
  return vision + 2 * int64_t{vocab} * d + int64_t{n_layers} * layer + d;
}

void Config::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw_range("invalid model config: " + msg);
  };
  // Single sizes first, so that the products below (64-bit) cannot overflow.
  need(d_model >= 1 && d_model <= kMaxDModel, "dModel must be from 1 to " + std::to_string(kMaxDModel));
  need(n_layers >= 1 && n_layers <= kMaxLayers, "nLayers must be from 1 to " + std::to_string(kMaxLayers));
  need(n_heads >= 1 && n_heads <= d_model && d_model % n_heads == 0, "nHeads must divide dModel");
  need(head_dim() % 2 == 0, "dModel / nHeads (the head size) must be even for RoPE");
  need(n_kv_heads >= 1 && n_kv_heads <= n_heads && n_heads % n_kv_heads == 0, "nKvHeads must divide nHeads");
  need(d_ff >= 1 && d_ff <= kMaxDFF, "dFF must be from 1 to " + std::to_string(kMaxDFF));
  need(image_size >= 1 && image_size <= kMaxImageSize, "imageSize must be from 1 to " + std::to_string(kMaxImageSize));
  need(patch_size >= 1 && image_size >= patch_size && image_size % patch_size == 0, "patchSize must divide imageSize");
  const int64_t grid = image_size / patch_size;
  need(max_seq_len >= 2 && max_seq_len <= kMaxSeqLen && max_seq_len > grid * grid + 1,
       "maxSeqLen must exceed the image tokens + bos, and be at most " + std::to_string(kMaxSeqLen));
  need(vocab >= kVocab && vocab <= kMaxVocab, "vocabSize must be from 260 (256 bytes + bos, eos, pad, image) to 65536");
  need(rope_theta > 1, "ropeTheta must be > 1");
  need(norm_eps > 0, "normEps must be > 0");
  need(parameter_count() <= kMaxParameters, "the parameters (" + std::to_string(parameter_count()) +
                                                ") exceed the limit of " + std::to_string(kMaxParameters) +
                                                ": reduce nLayers, dModel, dFF or vocabSize");
  need(int64_t{max_seq_len} * head_dim() <= kMaxRopeTable,
       "maxSeqLen x the head size must be at most " + std::to_string(kMaxRopeTable) + " (the rotary tables)");
}

Param& Model::add(const std::string& name, std::vector<int64_t> shape) {
  Param p;
  p.name = name;
  p.value = empty_tensor(shape, DType::F32, ex_.dev);
  p.grad = empty_tensor(shape, DType::F32, ex_.dev);
  fill_zero(ex_, p.grad.data<float>(), p.grad.numel());
  p.decay = shape.size() >= 2;
  params_.push_back(std::move(p));
  return params_.back();
}

Model::Model(const Config& cfg, uint64_t seed, Device device, MatmulPrecision precision)
    : cfg_(cfg),
      ex_{device, precision},
      train_(device),
      dx_(device),
      dh_(device),
      dbig_(device),
      du_(device),
      datt_(device),
      dq_(device),
      dk_(device),
      dv_(device),
      dscr_(device),
      dlog_(device),
      dhr_(device) {
  cfg_.validate();
  if (device == Device::CUDA && !cuda::available())
    throw_runtime("the model cannot use CUDA: " + cuda::query_device().reason);
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
  std::vector<float> host;
  for (auto& p : params_) {
    const int64_t n = p.value.numel();
    host.resize(static_cast<size_t>(n));
    float* w = host.data();  // drawn on the host on every device: the same seed, the same model
    const bool gain = p.name.find("norm") != std::string::npos;
    const bool bias = p.name.find(".bias") != std::string::npos;
    const bool out_proj = p.name.find("o_proj") != std::string::npos || p.name.find("down_proj") != std::string::npos;
    for (int64_t j = 0; j < n; ++j)
      w[j] = gain ? 1.0f : bias ? 0.0f : static_cast<float>(rng.normal() * (out_proj ? resid : 0.02));
    copy_from_host(p.value, w, p.value.bytes());
  }
  rope_tables(cfg.max_seq_len, cfg.head_dim(), cfg.rope_theta, &cos_, &sin_);
  cos_.upload(ex_.dev);
  sin_.upload(ex_.dev);
}

int64_t Model::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.value.numel();
  return n;
}

void Model::zero_grad() {
  for (auto& p : params_) fill_zero(ex_, p.grad.data<float>(), p.grad.numel());
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
  for (int64_t i = 0; i < B; ++i) {
    int32_t* p = &ws.pos[ws.seq_off[i]];
    for (int64_t j = 0; j < ws.seq_len[i]; ++j) p[j] = static_cast<int32_t>(j);
    if (cfg_.image_positions != Config::ImagePositions::kFirst && b.has_image[i]) {
      // [image nP][bos + prompt: lead][response] in sequence order -> positions [lead..lead+nP-1][0..lead-1][same]
      // (kShared: every image token at lead+nP-1). Response positions stay the sequence index, which generation's
      // KV cache relies on.
      const int64_t lead = b.text_len[i] - b.resp_len[i];
      const bool shared = cfg_.image_positions == Config::ImagePositions::kShared;
      for (int64_t k = 0; k < nP; ++k) p[k] = static_cast<int32_t>(shared ? lead + nP - 1 : lead + k);
      for (int64_t j = 0; j < lead; ++j) p[nP + j] = static_cast<int32_t>(j);
    }
  }
  const int64_t kvd = cfg_.kv_dim();
  ws.attn.clear();
  for (int64_t i = 0; i < B; ++i) {
    const int32_t L = static_cast<int32_t>(ws.seq_len[i]);
    ws.attn.push_back({ws.seq_off[i], ws.seq_off[i] * kvd, ws.probs_off[i], L, L});
  }
  if (ex_.cuda()) {
    ws.row_seq.resize(row);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < ws.seq_len[i]; ++j) ws.row_seq[ws.seq_off[i] + j] = static_cast<int32_t>(i);
    group_rows_by_id(ws.text_ids.data(), ws.text_rows.data(), static_cast<int64_t>(ws.text_rows.size()), cfg_.vocab,
                     &ws.by_id_off, &ws.by_id_rows);
    for (auto* m : {&ws.pos, &ws.text_ids, &ws.row_seq}) m->upload(ex_.dev);
    for (auto* m : {&ws.text_rows, &ws.by_id_off, &ws.by_id_rows}) m->upload(ex_.dev);
    ws.attn.upload(ex_.dev);
  }
}

void Model::forward_hidden(const Batch& b, Workspace& ws, KvCache* cache, const std::vector<int64_t>* slots) {
  layout(b, ws);
  const int64_t N = ws.rows, d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), F = cfg_.d_ff;
  const int64_t nP = cfg_.n_patches(), pd = cfg_.patch_dim();
  const float eps = static_cast<float>(cfg_.norm_eps);
  while (static_cast<int>(ws.layers.size()) < cfg_.n_layers) ws.layers.emplace_back(ex_.dev);
  for (auto& A : ws.layers) {
    grow(A.x, N * d), grow(A.inv1, N), grow(A.h1, N * d), grow(A.q, N * qd), grow(A.k, N * kvd), grow(A.v, N * kvd);
    grow(A.probs, ws.probs_off.back()), grow(A.att, N * qd), grow(A.xmid, N * d), grow(A.inv2, N);
    grow(A.h2, N * d), grow(A.g, N * F), grow(A.u, N * F), grow(A.a, N * F);
  }
  grow(ws.xf, N * d), grow(ws.invf, N), grow(ws.hf, N * d);

  // Embeddings: text rows from embed_tokens, image rows from the patch embedding.
  const Device dev = ex_.dev;
  float* x0 = ws.layers[0].x.data();
  embed_rows(ex_, embed_->value.data<float>(), ws.text_ids.ptr(dev), ws.text_rows.ptr(dev),
             static_cast<int64_t>(ws.text_rows.size()), d, x0);
  const int64_t n_img = static_cast<int64_t>(ws.image_rows.size());
  grow(ws.patches, n_img * nP * pd);
  const int64_t px = static_cast<int64_t>(cfg_.image_size) * cfg_.image_size * 3;
  const float* images = b.images.data();
  if (ex_.cuda() && n_img > 0) {
    grow(ws.images, n_img * px);
    cuda::copy_host_to_device(ws.images.data(), b.images.data(), sizeof(float) * static_cast<size_t>(n_img * px));
    images = ws.images.data();
  }
  for (int64_t i = 0; i < n_img; ++i) {
    float* pt = ws.patches.data() + i * nP * pd;
    extract_patches(ex_, images + i * px, cfg_.image_size, cfg_.patch_size, pt);
    float* y = x0 + ws.image_rows[i] * d;
    linear(pt, *patch_w_, y, nP);
    patch_embed_add(ex_, y, patch_b_->value.data<float>(), row_e_->value.data<float>(), col_e_->value.data<float>(),
                    cfg_.grid(), d);
  }

  const AttnBatch ab = attn_batch(ws.attn, ws.row_seq, N);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    LayerActs& A = ws.layers[l];
    const LayerW& W = lw_[l];
    float* x_next = l + 1 < cfg_.n_layers ? ws.layers[l + 1].x.data() : ws.xf.data();
    rmsnorm_forward(ex_, A.x.data(), W.ln1->value.data<float>(), A.h1.data(), A.inv1.data(), N, d, eps);
    linear(A.h1.data(), *W.q, A.q.data(), N);
    linear(A.h1.data(), *W.k, A.k.data(), N);
    linear(A.h1.data(), *W.v, A.v.data(), N);
    rope_apply(ex_, A.q.data(), ws.pos.ptr(dev), N, cfg_.n_heads, cfg_.head_dim(), qd, cos_.ptr(dev), sin_.ptr(dev),
               false);
    rope_apply(ex_, A.k.data(), ws.pos.ptr(dev), N, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.ptr(dev), sin_.ptr(dev),
               false);
    attention_forward(ex_, ab, A.q.data(), A.k.data(), A.v.data(), A.att.data(), A.probs.data());
    if (cache) {
      for (int64_t i = 0; i < b.size(); ++i) {
        const int64_t o = ws.seq_off[i], L = ws.seq_len[i], slot = (*slots)[i];
        copy_floats(ex_, cache->kp(l, slot), A.k.data() + o * kvd, L * kvd);
        copy_floats(ex_, cache->vp(l, slot), A.v.data() + o * kvd, L * kvd);
      }
    }
    copy_floats(ex_, A.xmid.data(), A.x.data(), N * d);
    linear(A.att.data(), *W.o, A.xmid.data(), N, 1.0f);
    rmsnorm_forward(ex_, A.xmid.data(), W.ln2->value.data<float>(), A.h2.data(), A.inv2.data(), N, d, eps);
    linear(A.h2.data(), *W.gate, A.g.data(), N);
    linear(A.h2.data(), *W.up, A.u.data(), N);
    swiglu_forward(ex_, A.g.data(), A.u.data(), A.a.data(), N * F);
    copy_floats(ex_, x_next, A.xmid.data(), N * d);
    linear(A.a.data(), *W.down, x_next, N, 1.0f);
  }
  rmsnorm_forward(ex_, ws.xf.data(), norm_->value.data<float>(), ws.hf.data(), ws.invf.data(), N, d, eps);
}

void Model::lm_head(const Workspace& ws, Mirror<int64_t>& rows, Buf<float>* hr, Buf<float>* logits) const {
  const int64_t M = static_cast<int64_t>(rows.size()), d = cfg_.d_model;
  grow(*hr, M * d);
  grow(*logits, M * cfg_.vocab);
  rows.upload(ex_.dev);
  gather_rows(ex_, ws.hf.data(), rows.ptr(ex_.dev), M, d, hr->data());
  linear(hr->data(), *lm_head_, logits->data(), M);
}

ForwardResult Model::forward(const Batch& b, float temperature, bool entropy, bool save) {
  validate_batch(cfg_, b, true);
  Workspace local(ex_.dev);
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
  float* lp_out = lp.data();
  float* ent_out = entropy ? ent.data() : nullptr;
  Buf<float> dev_out(ex_.dev);  // CUDA: the kernel's outputs, copied to lp / ent below
  if (ex_.cuda()) {
    grow(dev_out, 2 * M);
    lp_out = dev_out.data();
    ent_out = entropy ? dev_out.data() + M : nullptr;
  }
  ws.pred_tok.upload(ex_.dev);
  lm_logprobs_forward(ex_, ws.logits.data(), ws.pred_tok.ptr(ex_.dev), M, cfg_.vocab, temperature, lp_out, ent_out);
  if (ex_.cuda() && M > 0) {
    cuda::copy_device_to_host(lp.data(), lp_out, sizeof(float) * M);
    if (entropy) cuda::copy_device_to_host(ent.data(), ent_out, sizeof(float) * M);
  }
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

void Model::backward(const float* grad, const float* grad_entropy, int64_t B, int64_t T) {
  Workspace& ws = train_;
  if (!ws.saved) throw_runtime("backward() needs a forward pass first: call logprobs(batch) (with grad enabled)");
  if (B != ws.B || T != ws.T)
    throw_range("gradLogprobs must have shape [" + std::to_string(ws.B) + ", " + std::to_string(ws.T) +
                "] (the last logprobs call), got [" + std::to_string(B) + ", " + std::to_string(T) + "]");
  const int64_t N = ws.rows, d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim(), F = cfg_.d_ff;
  const int64_t V = cfg_.vocab, M = static_cast<int64_t>(ws.pred_rows.size());

  const Device dev = ex_.dev;

  // LM head.
  Mirror<float> g, gh;
  g.resize(M);
  for (int64_t m = 0; m < M; ++m) g[m] = grad[ws.pred_out[m]];
  g.upload(dev);
  if (grad_entropy) {
    gh.resize(M);
    for (int64_t m = 0; m < M; ++m) gh[m] = grad_entropy[ws.pred_out[m]];
    gh.upload(dev);
  }
  grow(dlog_, M * V), grow(dhr_, M * d), grow(dx_, N * d), grow(dh_, N * d);
  lm_logprobs_backward(ex_, ws.logits.data(), ws.pred_tok.ptr(dev), g.ptr(dev), grad_entropy ? gh.ptr(dev) : nullptr, M,
                       V, ws.temperature, dlog_.data());
  linear_backward(ws.hr.data(), dlog_.data(), *lm_head_, dhr_.data(), M, 0.0f);
  fill_zero(ex_, dh_.data(), N * d);
  scatter_rows(ex_, dhr_.data(), ws.pred_rows.ptr(dev), M, d, dh_.data());
  rmsnorm_backward(ex_, ws.xf.data(), norm_->value.data<float>(), ws.invf.data(), dh_.data(), dx_.data(),
                   norm_->grad.data<float>(), N, d, false);

  grow(dbig_, N * F), grow(du_, N * F), grow(datt_, N * qd), grow(dq_, N * qd), grow(dk_, N * kvd), grow(dv_, N * kvd);
  int64_t max_l = 0;
  for (int64_t i = 0; i < ws.B; ++i) max_l = std::max(max_l, ws.seq_len[i]);
  grow(dscr_, ex_.cuda() ? ws.probs_off.back() : max_l * max_l);  // CUDA keeps dS of every sequence and head
  const AttnBatch ab = attn_batch(ws.attn, ws.row_seq, N);
  for (int l = cfg_.n_layers - 1; l >= 0; --l) {
    LayerActs& A = ws.layers[l];
    LayerW& W = lw_[l];
    // x_next = xmid + down(swiglu(gate(h2), up(h2)))
    linear_backward(A.a.data(), dx_.data(), *W.down, dbig_.data(), N, 0.0f);
    swiglu_backward(ex_, A.g.data(), A.u.data(), dbig_.data(), dbig_.data(), du_.data(), N * F);
    linear_backward(A.h2.data(), dbig_.data(), *W.gate, dh_.data(), N, 0.0f);
    linear_backward(A.h2.data(), du_.data(), *W.up, dh_.data(), N, 1.0f);
    rmsnorm_backward(ex_, A.xmid.data(), W.ln2->value.data<float>(), A.inv2.data(), dh_.data(), dx_.data(),
                     W.ln2->grad.data<float>(), N, d, true);
    // xmid = x + o(attention(rope(q(h1)), rope(k(h1)), v(h1)))
    linear_backward(A.att.data(), dx_.data(), *W.o, datt_.data(), N, 0.0f);
    fill_zero(ex_, dk_.data(), N * kvd);
    fill_zero(ex_, dv_.data(), N * kvd);
    attention_backward(ex_, ab, A.q.data(), A.k.data(), A.v.data(), A.probs.data(), datt_.data(), dq_.data(),
                       dk_.data(), dv_.data(), dscr_.data());
    rope_apply(ex_, dq_.data(), ws.pos.ptr(dev), N, cfg_.n_heads, cfg_.head_dim(), qd, cos_.ptr(dev), sin_.ptr(dev),
               true);
    rope_apply(ex_, dk_.data(), ws.pos.ptr(dev), N, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.ptr(dev), sin_.ptr(dev),
               true);
    linear_backward(A.h1.data(), dq_.data(), *W.q, dh_.data(), N, 0.0f);
    linear_backward(A.h1.data(), dk_.data(), *W.k, dh_.data(), N, 1.0f);
    linear_backward(A.h1.data(), dv_.data(), *W.v, dh_.data(), N, 1.0f);
    rmsnorm_backward(ex_, A.x.data(), W.ln1->value.data<float>(), A.inv1.data(), dh_.data(), dx_.data(),
                     W.ln1->grad.data<float>(), N, d, true);
  }
  // Embeddings.
  embed_rows_backward(ex_, dx_.data(), ws.text_ids.data(), ws.text_rows.data(),
                      static_cast<int64_t>(ws.text_rows.size()), ws.by_id_off.ptr(dev), ws.by_id_rows.ptr(dev),
                      cfg_.vocab, d, embed_->grad.data<float>());
  const int64_t nP = cfg_.n_patches(), pd = cfg_.patch_dim();
  for (size_t i = 0; i < ws.image_rows.size(); ++i) {
    const float* dy = dx_.data() + ws.image_rows[i] * d;
    linear_backward(ws.patches.data() + static_cast<int64_t>(i) * nP * pd, dy, *patch_w_, nullptr, nP, 0.0f);
    patch_embed_backward(ex_, dy, patch_b_->grad.data<float>(), row_e_->grad.data<float>(), col_e_->grad.data<float>(),
                         cfg_.grid(), d);
  }
}

std::vector<float> Model::logits(const Batch& b, int64_t* lmax) {
  validate_batch(cfg_, b, false);
  Workspace ws(ex_.dev);
  forward_hidden(b, ws, nullptr, nullptr);
  int64_t L = 0;
  for (int64_t i = 0; i < b.size(); ++i) L = std::max(L, ws.seq_len[i]);
  Mirror<int64_t> rows;
  rows.resize(ws.rows);
  std::iota(rows.begin(), rows.end(), 0);
  Buf<float> hr(ex_.dev), lg(ex_.dev);
  lm_head(ws, rows, &hr, &lg);
  const int64_t V = cfg_.vocab;
  std::vector<float> tmp;
  const float* lgh = host_view(ex_, lg, ws.rows * V, &tmp);
  std::vector<float> out(b.size() * L * V, 0.0f);
  for (int64_t i = 0; i < b.size(); ++i)
    std::memcpy(out.data() + i * L * V, lgh + ws.seq_off[i] * V, sizeof(float) * ws.seq_len[i] * V);
  *lmax = L;
  return out;
}

void Model::decode_step(KvCache& cache, const std::vector<int64_t>& slots, const std::vector<int32_t>& tokens,
                        const std::vector<int32_t>& positions, Buf<float>* logits) {
  const int64_t A = static_cast<int64_t>(slots.size()), d = cfg_.d_model, qd = cfg_.q_dim(), kvd = cfg_.kv_dim();
  const int64_t F = cfg_.d_ff, H = cfg_.n_heads;
  const float eps = static_cast<float>(cfg_.norm_eps);
  const Device dev = ex_.dev;
  Buf<float> x(dev), h(dev), inv(dev), q(dev), k(dev), v(dev), att(dev), g(dev), u(dev), probs(dev);
  grow(x, A * d), grow(h, A * d), grow(inv, A), grow(q, A * qd), grow(k, A * kvd), grow(v, A * kvd);
  grow(att, A * qd), grow(g, A * F), grow(u, A * F), grow(probs, A * H * cache.cap);
  // Row a: one query over its slot's cache (keys 0..pos[a]); probabilities at a * H * cap.
  Mirror<int64_t> rows, sl;
  Mirror<int32_t> tok, pos, row_seq;
  Mirror<AttnSeq> seqs;
  for (int64_t a = 0; a < A; ++a) {
    rows.push_back(a);
    sl.push_back(slots[a]);
    tok.push_back(tokens[a]);
    pos.push_back(positions[a]);
    row_seq.push_back(static_cast<int32_t>(a));
    seqs.push_back({a, slots[a] * cache.cap * kvd, a * H * cache.cap, 1, positions[a] + 1});
  }
  for (auto* m : {&rows, &sl}) m->upload(dev);
  for (auto* m : {&tok, &pos, &row_seq}) m->upload(dev);
  seqs.upload(dev);
  const AttnBatch ab = attn_batch(seqs, row_seq, A);
  embed_rows(ex_, embed_->value.data<float>(), tok.ptr(dev), rows.ptr(dev), A, d, x.data());
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const LayerW& W = lw_[l];
    rmsnorm_forward(ex_, x.data(), W.ln1->value.data<float>(), h.data(), inv.data(), A, d, eps);
    linear(h.data(), *W.q, q.data(), A);
    linear(h.data(), *W.k, k.data(), A);
    linear(h.data(), *W.v, v.data(), A);
    rope_apply(ex_, q.data(), pos.ptr(dev), A, cfg_.n_heads, cfg_.head_dim(), qd, cos_.ptr(dev), sin_.ptr(dev), false);
    rope_apply(ex_, k.data(), pos.ptr(dev), A, cfg_.n_kv_heads, cfg_.head_dim(), kvd, cos_.ptr(dev), sin_.ptr(dev),
               false);
    kv_cache_write(ex_, k.data(), v.data(), cache.kp(l, 0), cache.vp(l, 0), sl.ptr(dev), pos.ptr(dev), A, cache.cap,
                   kvd);
    attention_forward(ex_, ab, q.data(), cache.kp(l, 0), cache.vp(l, 0), att.data(), probs.data());
    linear(att.data(), *W.o, x.data(), A, 1.0f);
    rmsnorm_forward(ex_, x.data(), W.ln2->value.data<float>(), h.data(), inv.data(), A, d, eps);
    linear(h.data(), *W.gate, g.data(), A);
    linear(h.data(), *W.up, u.data(), A);
    swiglu_forward(ex_, g.data(), u.data(), g.data(), A * F);
    linear(g.data(), *W.down, x.data(), A, 1.0f);
  }
  rmsnorm_forward(ex_, x.data(), norm_->value.data<float>(), h.data(), inv.data(), A, d, eps);
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
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
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

// Appends token t's bytes to text; true when a stop string now occurs in it (only the new end is searched).
bool append_and_check_stops(std::string& text, int32_t t, const GenerateOptions& opt) {
  if (opt.stops.empty()) return false;
  const size_t before = text.size();
  const uint8_t* b = opt.token_bytes.data();
  text.append(reinterpret_cast<const char*>(b + opt.token_offsets[t]),
              reinterpret_cast<const char*>(b + opt.token_offsets[t + 1]));
  for (const auto& st : opt.stops) {
    const size_t from = before + 1 >= st.size() ? before + 1 - st.size() : 0;
    if (text.size() >= st.size() && text.find(st, from) != std::string::npos) return true;
  }
  return false;
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
  std::vector<std::string> text(S);  // generated bytes, for the stop strings
  std::vector<Rng> rngs;
  for (int64_t s = 0; s < S; ++s)
    rngs.emplace_back(opt.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(s) * 0xD1B54A32D192ED03ull + 7);

  KvCache cache(ex_.dev);
  Workspace ws(ex_.dev);
  Buf<float> hr(ex_.dev), lg(ex_.dev);
  std::vector<float> lg_tmp;  // CUDA: the host copy of the logits the sampler reads
  // Prefill: the prompts once, then copied to each of their n samples' cache slots.
  if (opt.use_cache) {
    cache.layers = cfg_.n_layers, cache.slots = S, cache.cap = cap, cache.kvd = cfg_.kv_dim();
    const int64_t cache_n = cache.layers * S * cap * cache.kvd;
    grow(cache.k, cache_n);  // CPU: zero-filled, as ever; CUDA: cleared below (only written slots are read)
    grow(cache.v, cache_n);
    if (ex_.cuda()) {
      fill_zero(ex_, cache.k.data(), cache_n);
      fill_zero(ex_, cache.v.data(), cache_n);
    }
    std::vector<int64_t> slots(P);
    for (int64_t i = 0; i < P; ++i) slots[i] = i * opt.n;
    forward_hidden(prompts, ws, &cache, &slots);
    for (int l = 0; l < cfg_.n_layers; ++l)
      for (int64_t i = 0; i < P; ++i)
        for (int j = 1; j < opt.n; ++j) {
          copy_floats(ex_, cache.kp(l, i * opt.n + j), cache.kp(l, i * opt.n), plen[i] * cache.kvd);
          copy_floats(ex_, cache.vp(l, i * opt.n + j), cache.vp(l, i * opt.n), plen[i] * cache.kvd);
        }
  } else {
    forward_hidden(prompts, ws, nullptr, nullptr);
  }
  Mirror<int64_t> last;
  last.resize(P);
  for (int64_t i = 0; i < P; ++i) last[i] = ws.seq_off[i] + ws.seq_len[i] - 1;
  lm_head(ws, last, &hr, &lg);
  const float* lgh = host_view(ex_, lg, P * V, &lg_tmp);

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
    if (append_and_check_stops(text[s], t, opt)) {
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
    if (take(s, lgh + (s / opt.n) * V)) active.push_back(s);

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
        b.tokens.insert(b.tokens.end(), prompts.tokens.begin() + toff,
                        prompts.tokens.begin() + toff + prompts.text_len[i]);
        b.tokens.insert(b.tokens.end(), out[s].tokens.begin(), out[s].tokens.end());
        b.text_len.push_back(prompts.text_len[i] + static_cast<int32_t>(out[s].tokens.size()));
        b.resp_len.push_back(static_cast<int32_t>(out[s].tokens.size()));  // positions as in the cached path
        if (prompts.has_image[i]) {
          int64_t img = 0;
          for (int64_t j = 0; j < i; ++j) img += prompts.has_image[j];
          const int64_t px = static_cast<int64_t>(cfg_.image_size) * cfg_.image_size * 3;
          b.images.insert(b.images.end(), prompts.images.begin() + img * px, prompts.images.begin() + (img + 1) * px);
        }
      }
      forward_hidden(b, ws, nullptr, nullptr);
      Mirror<int64_t> rows;
      rows.resize(A);
      for (int64_t a = 0; a < A; ++a) rows[a] = ws.seq_off[a] + ws.seq_len[a] - 1;
      lm_head(ws, rows, &hr, &lg);
    }
    lgh = host_view(ex_, lg, A * V, &lg_tmp);
    std::vector<int64_t> still;
    for (int64_t a = 0; a < A; ++a)
      if (take(active[a], lgh + a * V)) still.push_back(active[a]);
    active.swap(still);
  }
  return out;
}

}  // namespace sr::model
