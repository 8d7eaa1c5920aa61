#include "probe/fasttext_probe.h"

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fasttext/fasttext.h>

#include "probe/entropy.h"
#include "probe/text_features.h"

namespace aio::probe {
namespace {
constexpr const char *kLabelPrefix = "__label__";
// The probe reads a long request's first and last 128 tokens: the task and the answer options are there, and the
// cost stays flat however long the request is.
constexpr size_t kMaxFeatureTokens = 256;
using Clock = std::chrono::steady_clock;
} // namespace

Status FastTextTrainParams::validate() const {
  if (epoch < 1 || dim < 1 || word_ngrams < 1 || bucket < 1) return invalid_argument("fastText sizes must be >= 1");
  if (lr <= 0) return invalid_argument("fastText learning rate must be > 0");
  if (minn < 0 || maxn < minn) return invalid_argument("fastText needs 0 <= minn <= maxn");
  return {};
}

Status train_fasttext_probe(const std::vector<TrainingExample> &data, const std::vector<std::string> &categories,
                            const std::string &out_path, const FastTextTrainParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  if (data.empty()) return invalid_argument("no training data");
  const std::set<std::string> known(categories.begin(), categories.end());
  std::set<std::string> seen;
  for (const auto &p : data) {
    if (!known.count(p.label))
      return invalid_argument(p.where + ": label '" + p.label + "' is not one of the categories");
    seen.insert(p.label);
  }
  if (seen.size() != known.size()) return invalid_argument("the training data lacks examples of some categories");

  // fastText reads its training data from a file: one "__label__X features" line per example.
  const std::string tmp = out_path + ".train.txt";
  {
    std::ofstream f(tmp);
    if (!f) return invalid_argument("cannot write " + tmp + " (is the output folder writable?)");
    for (const auto &p : data) f << kLabelPrefix << p.label << ' ' << text_features(p.text) << '\n';
  }
  fasttext::Args args;
  args.input = tmp;
  args.output = out_path;
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.epoch = params.epoch;
  args.lr = params.lr;
  args.dim = params.dim;
  args.wordNgrams = params.word_ngrams;
  args.minn = params.minn;
  args.maxn = params.maxn;
  args.bucket = params.bucket;
  args.minCount = 1;
  args.thread = 1; // more threads race (Hogwild) and the model would differ run to run
  args.seed = params.seed;
  args.verbose = 0;
  try {
    fasttext::FastText ft;
    ft.train(args);
    ft.saveModel(out_path);
  } catch (const std::exception &e) {
    std::remove(tmp.c_str());
    return internal_error(std::string("fastText training failed: ") + e.what());
  }
  std::remove(tmp.c_str());
  return {};
}

FastTextProbe::~FastTextProbe() = default;

Expected<std::unique_ptr<FastTextProbe>> FastTextProbe::load(const std::string &path,
                                                             const std::vector<std::string> &categories) {
  if (!std::filesystem::exists(path))
    return not_found("fastText probe model not found: " + path + " (train one with `aio probe train`)");
  std::unique_ptr<FastTextProbe> p(new FastTextProbe());
  p->model_ = std::make_unique<fasttext::FastText>();
  try {
    p->model_->loadModel(path);
  } catch (const std::exception &e) {
    return invalid_file(path + " is not a fastText model: " + e.what());
  }
  const auto dict = p->model_->getDictionary();
  std::set<std::string> labels;
  for (int32_t i = 0; i < dict->nlabels(); ++i) labels.insert(dict->getLabel(i).substr(std::strlen(kLabelPrefix)));
  if (labels != std::set<std::string>(categories.begin(), categories.end()))
    return invalid_argument(path + " was trained for other categories than the configured ones");
  p->categories_ = categories;
  return p;
}

ProbeResult FastTextProbe::classify(std::string_view text) const {
  ProbeResult r;
  r.probe_kind = "fasttext";
  r.categories = categories_;
  const auto t0 = Clock::now();
  std::istringstream in(text_features(text, kMaxFeatureTokens) + "\n");
  const auto t1 = Clock::now();
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  model_->predictLine(in, predictions, -1, 0.0);
  r.distribution.assign(categories_.size(), 0.0);
  double sum = 0;
  for (const auto &[prob, label] : predictions) {
    const std::string name = label.substr(std::strlen(kLabelPrefix));
    const auto it = std::find(categories_.begin(), categories_.end(), name);
    if (it != categories_.end()) sum += r.distribution[static_cast<size_t>(it - categories_.begin())] = prob;
  }
  if (sum > 0) {
    for (double &p : r.distribution) p /= sum;
  } else {
    r.distribution.assign(categories_.size(), 1.0 / static_cast<double>(categories_.size())); // empty text
  }
  r.argmax = static_cast<int32_t>(std::max_element(r.distribution.begin(), r.distribution.end()) - r.distribution.begin());
  r.entropy_bits = entropy_bits(r.distribution);
  const auto t2 = Clock::now();
  r.template_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  r.probe_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  return r;
}

} // namespace aio::probe
