// Beyond the paper: a supervised fastText classifier on word n-grams (libfasttext), where Chinese characters and
// punctuation are words of their own, beside marker tokens for the request's layout (text_features.h, structure.h);
// character n-grams inside words are an option. Its probabilities are calibrated by a temperature fitted on held-out
// prompts, so the entropy the policy reads means what it says. Microseconds per request instead of a forward pass of
// the small model, in English and Chinese. The shipped one is trained on real requests (data/probe/).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aio/route.h"

namespace fasttext {
class FastText;
}

namespace aio::probe {

struct FastTextTrainParams {
  int32_t epoch = 40;        // passes over the data
  double lr = 0.5;           // learning rate
  int32_t dim = 32;          // embedding size
  int32_t word_ngrams = 2;   // word n-grams up to this length
  // Character n-grams inside words, from minn to maxn (0 = none). Off by default: Chinese characters are already
  // tokens of their own (so word bigrams are character bigrams there), and on the shipped data they cost about twice
  // the time for lower accuracy (measured on the dev split: 99.00% with 3-5, 99.37% without).
  int32_t minn = 0;
  int32_t maxn = 0;
  int32_t bucket = 200000;   // hash buckets for n-grams
  int32_t seed = 1;          // with one thread, the same seed and data give the same model
  Status validate() const;
};

// One labelled training text.
struct TrainingExample {
  std::string text;
  std::string label;
  std::string where; // where it came from, for messages (file, id)
};
// Anything with .text, .label, .source and .id (eval::LabeledPrompt) as training examples.
template <typename Labeled> std::vector<TrainingExample> training_examples(const std::vector<Labeled> &items) {
  std::vector<TrainingExample> out;
  out.reserve(items.size());
  for (const auto &i : items) out.push_back({i.text, i.label, i.source + " (" + i.id + ")"});
  return out;
}

// Trains on `data` (labels must be among `categories`) and writes the model to out_path, and beside it
// (out_path + ".json") what loading needs: the text-features version, the categories and the softmax temperature.
// With `calibration` data (held out from training) the temperature is fitted so that the probe's probabilities are
// honest there (minimum log loss); without, it is 1. Deterministic.
struct TrainReport {
  double temperature = 1;
  double log_loss_before = 0, log_loss_after = 0; // on the calibration data (0 without)
};
Expected<TrainReport> train_fasttext_probe(const std::vector<TrainingExample> &data,
                                           const std::vector<std::string> &categories, const std::string &out_path,
                                           const FastTextTrainParams &params = {},
                                           const std::vector<TrainingExample> &calibration = {});

// The temperature minimising the mean log loss of softmax(log p / T) on the true labels (golden-section search over
// log T in [-3, 3]). `distributions[i]` is a model's raw distribution for sample i, `truth[i]` its category index.
double fit_temperature(const std::vector<std::vector<double>> &distributions, const std::vector<size_t> &truth);
// The distribution sharpened (T < 1) or flattened (T > 1): p_i^(1/T), normalised.
void apply_temperature(std::vector<double> &distribution, double temperature);

class FastTextProbe {
public:
  // Loads a model and its sidecar (path + ".json"); fails if it does not know every category (or knows others), or
  // was trained on other text features. Empty `categories`: take the model's own, in the sidecar's order.
  static Expected<std::unique_ptr<FastTextProbe>> load(const std::string &path,
                                                       const std::vector<std::string> &categories);
  const std::vector<std::string> &categories() const { return categories_; }
  double temperature() const { return temperature_; }
  ~FastTextProbe();

  // The distribution over the categories for this text. n_context_tokens is left to the caller (it is counted in
  // the small model's tokens). Thread-safe.
  ProbeResult classify(std::string_view text) const;

private:
  FastTextProbe() = default;
  std::unique_ptr<fasttext::FastText> model_;
  std::vector<std::string> categories_;
  double temperature_ = 1;
};

} // namespace aio::probe
