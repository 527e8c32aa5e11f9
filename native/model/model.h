// The built-in policy model: a small vision-language decoder (Llama layout) with
// forward, backward, KV-cached generation, owned parameters and gradients.
//
// Sequence layout: [image tokens (n_patches, when the item has an image)][bos][prompt bytes][response tokens]
// (a string response ends with eos; the TypeScript layer builds the tokens). Sequences of a batch are packed
// back to back (rows = tokens), so padding never enters a matrix product; attention runs per sequence.
// Positions (RoPE) start at 0 on each sequence's first token, image tokens included.
//
// One orchestration for both devices: parameters, gradients, activations and the KV
// cache live on the model's device (CPU: the built-in GEMM; CUDA: tensor-core products
// and the ops' CUDA kernels, see ops/dispatch.h); index arrays are built on the host and
// uploaded once per call. Results that leave the model (log-probs, logits, sampled
// tokens) come back to the host. Sampling itself runs on the host on every device (the
// same RNG and code, so a seed means the same thing on the CPU and CUDA).
// One call at a time per model: the binding holds a busy flag. Buffers are kept between
// calls and only grow, so memory stays flat over training steps of a steady batch shape.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/buffer.h"
#include "model/ops/attention/attention.h"
#include "model/ops/dispatch.h"
#include "model/ops/matmul/matmul.h"

namespace sr::model {

constexpr int kBos = 256, kEos = 257, kPad = 258, kImage = 259, kVocab = 260, kMaxVocab = 65536;
// Upper bounds of a config (the same as MODEL_LIMITS in lib/model/config.ts), checked in 64-bit arithmetic before
// anything is allocated: they keep every size product of the model far from overflowing an int.
constexpr int64_t kMaxDModel = 32768, kMaxLayers = 1024, kMaxDFF = 131072, kMaxImageSize = 4096, kMaxSeqLen = 1 << 20;
constexpr int64_t kMaxParameters = int64_t{1} << 32;  // values and gradients are allocated at creation
constexpr int64_t kMaxRopeTable = int64_t{1} << 30;   // max_seq_len * head_dim: the rotary tables

struct Config {
  int d_model = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, d_ff = 0;
  int image_size = 0, patch_size = 0, max_seq_len = 0, vocab = kVocab;  // vocab: kVocab + the tokenizer's merges
  double rope_theta = 10000.0, norm_eps = 1e-5;
  // Rotary positions of the image tokens (the sequence order never changes).
  //  kFirst: sequence order (the image first, positions 0..n_patches-1).
  //  kBeforeResponse: as if the image stood between the prompt and the response ([bos][prompt][image][response]
  //    in position space): the response then sits a few positions from the image, as a caption does, whatever
  //    the prompt's length, so what is learnt close to the image carries over to long prompts.
  //  kShared: all image tokens at the last position before the response, so a token says where it is in the
  //    image only through its patch's row/column embedding (no "caption line k = image token k" shortcut).
  enum class ImagePositions { kFirst, kBeforeResponse, kShared };
  ImagePositions image_positions = ImagePositions::kFirst;

  int head_dim() const { return d_model / n_heads; }
  int grid() const { return image_size / patch_size; }
  int n_patches() const { return grid() * grid(); }
  int patch_dim() const { return 3 * patch_size * patch_size; }
  int q_dim() const { return n_heads * head_dim(); }
  int kv_dim() const { return n_kv_heads * head_dim(); }
  int64_t parameter_count() const;  // 64-bit; meaningful once the single sizes are in range
  void validate() const;            // RangeError naming the first bad key
};

struct Param {
  std::string name;
  Tensor value, grad;
  bool decay;  // 2-D weights: weight decay applies; norm gains and biases: none
};

struct Batch {
  std::vector<uint8_t> has_image;  // [B]
  std::vector<int32_t> text_len;   // [B] tokens of [bos][prompt][response]
  std::vector<int32_t> resp_len;   // [B] the last resp_len text tokens are the response
  std::vector<int32_t> tokens;     // all text tokens, sequence after sequence
  std::vector<float> images;       // [images, S, S, 3] for the items with one, in order
  int64_t size() const { return static_cast<int64_t>(text_len.size()); }
};

struct ForwardResult {
  int64_t B = 0, T = 0;
  std::vector<float> logprobs, entropy;  // [B, T]
  std::vector<uint8_t> mask;             // [B, T]
  bool has_entropy = false;
};

enum class Finish : int { Eos = 0, Stop = 1, Length = 2 };

struct Sample {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  Finish finish = Finish::Length;
};

struct GenerateOptions {
  int n = 1, max_new = 64;
  double temperature = 1.0, top_p = 1.0;  // temperature 0: greedy (log-probs then at temperature 1)
  uint64_t seed = 0;
  // Stop strings, matched on the generated text's bytes (a merged token can carry a stop's end and more):
  // a sample stops at the first token after which its text contains one. token_bytes / token_offsets give
  // each token id's bytes (offsets has vocab + 1 entries; special tokens have none).
  std::vector<std::string> stops;
  std::vector<uint8_t> token_bytes;
  std::vector<int32_t> token_offsets;
  bool use_cache = true;  // false: recompute every step from scratch (tests)
};

struct LayerActs {
  explicit LayerActs(Device d)
      : x(d), inv1(d), h1(d), q(d), k(d), v(d), probs(d), att(d), xmid(d), inv2(d), h2(d), g(d), u(d), a(d) {}
  Buf<float> x, inv1, h1, q, k, v, probs, att, xmid, inv2, h2, g, u, a;
};

struct Workspace {
  explicit Workspace(Device d) : images(d), patches(d), xf(d), invf(d), hf(d), hr(d), logits(d) {}
  // layout of the packed batch
  std::vector<int64_t> seq_off, seq_len, text_off, probs_off;
  int64_t rows = 0;
  Mirror<int32_t> pos;
  Mirror<int64_t> text_rows;
  Mirror<int32_t> text_ids;
  std::vector<int64_t> image_rows;        // first row of each image
  Mirror<AttnSeq> attn;                   // one per sequence
  Mirror<int32_t> row_seq;                // CUDA: the sequence of each packed row
  Mirror<int64_t> by_id_off, by_id_rows;  // CUDA: the text rows grouped by token id (embedding backward)
  // activations
  std::vector<LayerActs> layers;
  Buf<float> images, patches, xf, invf, hf;
  // LM head rows (training: the rows predicting response tokens)
  Mirror<int64_t> pred_rows;
  std::vector<int64_t> pred_out;
  Mirror<int32_t> pred_tok;
  Buf<float> hr, logits;
  int64_t B = 0, T = 0;
  float temperature = 1.0f;
  bool saved = false;
};

struct KvCache {
  explicit KvCache(Device d) : k(d), v(d) {}
  int64_t slots = 0, cap = 0, kvd = 0;
  int layers = 0;
  Buf<float> k, v;
  float* kp(int l, int64_t s) { return k.data() + ((static_cast<int64_t>(l) * slots + s) * cap) * kvd; }
  float* vp(int l, int64_t s) { return v.data() + ((static_cast<int64_t>(l) * slots + s) * cap) * kvd; }
};

class Model {
 public:
  // device CUDA needs a usable GPU (checked); precision applies to its matrix products.
  Model(const Config& cfg, uint64_t seed, Device device = Device::CPU,
        MatmulPrecision precision = MatmulPrecision::Tf32);

  const Config& config() const { return cfg_; }
  Device device() const { return ex_.dev; }
  MatmulPrecision precision() const { return ex_.precision; }
  std::vector<Param>& params() { return params_; }
  int64_t num_parameters() const;

  // Log-probs of every response token; saves activations for backward() when save is set.
  ForwardResult forward(const Batch& batch, float temperature, bool entropy, bool save);
  // Accumulates parameter gradients of sum grad * logprobs + grad_entropy * entropy (host
  // arrays [B, T]; grad_entropy may be null) for the last saved forward.
  void backward(const float* grad, const float* grad_entropy, int64_t B, int64_t T);
  // Logits of every position, [B, Lmax, V] (zero rows past a sequence's end).
  std::vector<float> logits(const Batch& batch, int64_t* lmax);
  std::vector<Sample> generate(const Batch& prompts, const GenerateOptions& opt);
  void zero_grad();
  bool has_saved() const { return train_.saved; }
  int64_t saved_B() const { return train_.B; }
  int64_t saved_T() const { return train_.T; }

  std::atomic<bool> busy{false};

 private:
  struct LayerW {
    Param *ln1, *q, *k, *v, *o, *ln2, *gate, *up, *down;
  };
  Param& add(const std::string& name, std::vector<int64_t> shape);
  // Y[rows, out] (+)= X W^T and its backward (dX written or added, dW accumulated) on the model's device.
  void linear(const float* X, const Param& W, float* Y, int64_t rows, float beta = 0.0f) const;
  void linear_backward(const float* X, const float* dY, Param& W, float* dX, int64_t rows, float beta_dx) const;
  AttnBatch attn_batch(const Mirror<AttnSeq>& seqs, const Mirror<int32_t>& row_seq, int64_t rows) const;
  void layout(const Batch& b, Workspace& ws) const;
  // Runs the decoder over the packed batch up to the final norm (ws.hf). With a
  // cache, the keys/values of sequence i go to cache slot slots[i].
  void forward_hidden(const Batch& b, Workspace& ws, KvCache* cache, const std::vector<int64_t>* slots);
  // Logits of the listed rows of ws.hf (uploads `rows` first).
  void lm_head(const Workspace& ws, Mirror<int64_t>& rows, Buf<float>* hr, Buf<float>* logits) const;
  void decode_step(KvCache& cache, const std::vector<int64_t>& slots, const std::vector<int32_t>& tokens,
                   const std::vector<int32_t>& positions, Buf<float>* logits);

  Config cfg_;
  Exec ex_;
  std::vector<Param> params_;
  Param *patch_w_, *patch_b_, *row_e_, *col_e_, *embed_, *norm_, *lm_head_;
  std::vector<LayerW> lw_;
  Mirror<float> cos_, sin_;
  Workspace train_;
  // backward scratch
  Buf<float> dx_, dh_, dbig_, du_, datt_, dq_, dk_, dv_, dscr_, dlog_, dhr_;
};

void validate_batch(const Config& cfg, const Batch& b, bool need_response);

}  // namespace sr::model
