// The built-in policy model: a small vision-language decoder (Llama layout) with
// forward, backward, KV-cached generation, owned parameters and gradients.
//
// Sequence layout: [image tokens (n_patches, when the item has an image)][bos][prompt bytes][response tokens]
// (a string response ends with eos; the TypeScript layer builds the tokens). Sequences of a batch are packed
// back to back (rows = tokens), so padding never enters a matrix product; attention runs per sequence.
// Positions (RoPE) start at 0 on each sequence's first token, image tokens included.
//
// Everything here runs on the CPU (OpenBLAS for products). One call at a time per
// model: the binding holds a busy flag. Buffers are kept between calls and only grow,
// so memory stays flat over training steps of a steady batch shape.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr::model {

constexpr int kBos = 256, kEos = 257, kPad = 258, kImage = 259, kVocab = 260;

struct Config {
  int d_model = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, d_ff = 0;
  int image_size = 0, patch_size = 0, max_seq_len = 0, vocab = kVocab;
  double rope_theta = 10000.0, norm_eps = 1e-5;

  int head_dim() const { return d_model / n_heads; }
  int grid() const { return image_size / patch_size; }
  int n_patches() const { return grid() * grid(); }
  int patch_dim() const { return 3 * patch_size * patch_size; }
  int q_dim() const { return n_heads * head_dim(); }
  int kv_dim() const { return n_kv_heads * head_dim(); }
  void validate() const;  // RangeError naming the first bad key
};

struct Param {
  std::string name;
  Tensor value, grad;
  bool decay;  // 2-D weights: weight decay applies; norm gains and biases: none
};

struct Batch {
  std::vector<uint8_t> has_image;   // [B]
  std::vector<int32_t> text_len;    // [B] tokens of [bos][prompt][response]
  std::vector<int32_t> resp_len;    // [B] the last resp_len text tokens are the response
  std::vector<int32_t> tokens;      // all text tokens, sequence after sequence
  std::vector<float> images;        // [images, S, S, 3] for the items with one, in order
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
  std::vector<std::vector<int32_t>> stops;  // stop token sequences
  bool use_cache = true;                    // false: recompute every step from scratch (tests)
};

struct LayerActs {
  std::vector<float> x, inv1, h1, q, k, v, probs, att, xmid, inv2, h2, g, u, a;
};

struct Workspace {
  // layout of the packed batch
  std::vector<int64_t> seq_off, seq_len, text_off, probs_off;
  int64_t rows = 0;
  std::vector<int32_t> pos;
  std::vector<int64_t> text_rows;
  std::vector<int32_t> text_ids;
  std::vector<int64_t> image_rows;  // first row of each image
  // activations
  std::vector<LayerActs> layers;
  std::vector<float> patches, xf, invf, hf;
  // LM head rows (training: the rows predicting response tokens)
  std::vector<int64_t> pred_rows, pred_out;
  std::vector<int32_t> pred_tok;
  std::vector<float> hr, logits;
  int64_t B = 0, T = 0;
  float temperature = 1.0f;
  bool saved = false;
};

struct KvCache {
  int64_t slots = 0, cap = 0, kvd = 0;
  int layers = 0;
  std::vector<float> k, v;
  float* kp(int l, int64_t s) { return k.data() + ((static_cast<int64_t>(l) * slots + s) * cap) * kvd; }
  float* vp(int l, int64_t s) { return v.data() + ((static_cast<int64_t>(l) * slots + s) * cap) * kvd; }
};

class Model {
 public:
  Model(const Config& cfg, uint64_t seed);

  const Config& config() const { return cfg_; }
  std::vector<Param>& params() { return params_; }
  int64_t num_parameters() const;

  // Log-probs of every response token; saves activations for backward() when save is set.
  ForwardResult forward(const Batch& batch, float temperature, bool entropy, bool save);
  // Accumulates parameter gradients for d(sum grad * logprobs) of the last saved forward.
  void backward(const float* grad, int64_t B, int64_t T);
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
  void layout(const Batch& b, Workspace& ws) const;
  // Runs the decoder over the packed batch up to the final norm (ws.hf). With a
  // cache, the keys/values of sequence i go to cache slot slots[i].
  void forward_hidden(const Batch& b, Workspace& ws, KvCache* cache, const std::vector<int64_t>* slots);
  void lm_head(const Workspace& ws, const std::vector<int64_t>& rows, std::vector<float>* hr,
               std::vector<float>* logits) const;
  void decode_step(KvCache& cache, const std::vector<int64_t>& slots, const std::vector<int32_t>& tokens,
                   const std::vector<int32_t>& positions, std::vector<float>* logits);

  Config cfg_;
  std::vector<Param> params_;
  Param *patch_w_, *patch_b_, *row_e_, *col_e_, *embed_, *norm_, *lm_head_;
  std::vector<LayerW> lw_;
  std::vector<float> cos_, sin_;
  Workspace train_;
  // backward scratch
  std::vector<float> dx_, dh_, dbig_, du_, datt_, dq_, dk_, dv_, dscr_, dlog_, dhr_, dimg_;
};

void validate_batch(const Config& cfg, const Batch& b, bool need_response);

}  // namespace sr::model
