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
#include <nlohmann/json.hpp>

#include "probe/entropy.h"
#include "probe/text_features.h"
#include "util/files.h"

namespace aio::probe {
namespace {
constexpr const char *kLabelPrefix = "__label__";
// The probe reads a long request's first and last 128 tokens: the task and the answer options are there, and the
// cost stays flat however long the request is.
constexpr size_t kMaxFeatureTokens = 256;
using Clock = std::chrono::steady_clock;

std::string sidecar_path(const std::string &model_path) { return model_path + ".json"; }

// fastText's probabilities for every label of `model`, in the order of `categories` (normalised; uniform for a text
// without features).
std::vector<double> raw_distribution(fasttext::FastText &model, const std::vector<std::string> &categories,
                                     std::string_view text) {
  std::istringstream in(text_features(text, kMaxFeatureTokens) + "\n");
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  model.predictLine(in, predictions, -1, 0.0);
  std::vector<double> d(categories.size(), 0.0);
  double sum = 0;
  for (const auto &[prob, label] : predictions) {
    const std::string name = label.substr(std::strlen(kLabelPrefix));
    const auto it = std::find(categories.begin(), categories.end(), name);
    if (it != categories.end()) sum += d[static_cast<size_t>(it - categories.begin())] = prob;
  }
  if (sum > 0) {
    for (double &p : d) p /= sum;
  } else {
    d.assign(categories.size(), 1.0 / static_cast<double>(categories.size())); // empty text
  }
  return d;
}

double mean_log_loss(const std::vector<std::vector<double>> &dists, const std::vector<size_t> &truth, double t) {
  double loss = 0;
  for (size_t i = 0; i < dists.size(); ++i) {
    std::vector<double> d = dists[i];
    apply_temperature(d, t);
    loss -= std::log(std::max(d[truth[i]], 1e-12));
  }
  return dists.empty() ? 0 : loss / static_cast<double>(dists.size());
}
} // namespace

void apply_temperature(std::vector<double> &distribution, double temperature) {
  if (temperature == 1 || distribution.empty()) return;
  // In log space, shifted by the largest, so that a sharpening temperature cannot underflow every entry.
  double top = -1e300;
  for (double p : distribution) top = std::max(top, std::log(std::max(p, 1e-300)));
  double sum = 0;
  for (double &p : distribution) sum += p = std::exp((std::log(std::max(p, 1e-300)) - top) / temperature);
  for (double &p : distribution) p /= sum;
}

double fit_temperature(const std::vector<std::vector<double>> &distributions, const std::vector<size_t> &truth) {
  if (distributions.empty()) return 1;
  // The log loss is unimodal in log T for a softmax: golden-section search.
  double lo = -3, hi = 3;
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
  double fa = mean_log_loss(distributions, truth, std::exp(a)), fb = mean_log_loss(distributions, truth, std::exp(b));
  for (int it = 0; it < 60; ++it) {
    if (fa < fb) {
      hi = b, b = a, fb = fa, a = hi - g * (hi - lo);
      fa = mean_log_loss(distributions, truth, std::exp(a));
    } else {
      lo = a, a = b, fa = fb, b = lo + g * (hi - lo);
      fb = mean_log_loss(distributions, truth, std::exp(b));
    }
  }
  return std::exp((lo + hi) / 2);
}

Status FastTextTrainParams::validate() const {
  if (epoch < 1 || dim < 1 || word_ngrams < 1 || bucket < 1) return invalid_argument("fastText sizes must be >= 1");
  if (lr <= 0) return invalid_argument("fastText learning rate must be > 0");
  if (minn < 0 || maxn < minn) return invalid_argument("fastText needs 0 <= minn <= maxn");
  return {};
}

Expected<TrainReport> train_fasttext_probe(const std::vector<TrainingExample> &data,
                                           const std::vector<std::string> &categories, const std::string &out_path,
                                           const FastTextTrainParams &params,
                                           const std::vector<TrainingExample> &calibration) {
  AIO_RETURN_IF_ERROR(params.validate());
  AIO_RETURN_IF_ERROR(check_category_names(categories));
  if (data.empty()) return invalid_argument("no training data");
  const std::set<std::string> known(categories.begin(), categories.end());
  std::set<std::string> seen;
  for (const auto &p : data) {
    if (!known.count(p.label))
      return invalid_argument(p.where + ": label '" + p.label + "' is not one of the categories");
    seen.insert(p.label);
  }
  for (const auto &p : calibration)
    if (!known.count(p.label))
      return invalid_argument(p.where + ": label '" + p.label + "' is not one of the categories");
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
  TrainReport report;
  try {
    fasttext::FastText ft;
    ft.train(args);
    ft.saveModel(out_path);
    if (!calibration.empty()) {
      std::vector<std::vector<double>> dists;
      std::vector<size_t> truth;
      for (const auto &p : calibration) {
        dists.push_back(raw_distribution(ft, categories, p.text));
        truth.push_back(static_cast<size_t>(std::find(categories.begin(), categories.end(), p.label) -
                                            categories.begin()));
      }
      report.temperature = fit_temperature(dists, truth);
      report.log_loss_before = mean_log_loss(dists, truth, 1);
      report.log_loss_after = mean_log_loss(dists, truth, report.temperature);
    }
  } catch (const std::exception &e) {
    std::remove(tmp.c_str());
    return internal_error(std::string("fastText training failed: ") + e.what());
  }
  std::remove(tmp.c_str());
  const nlohmann::json sidecar = {{"format", "aio-fasttext-probe"},
                                  {"text_features_version", kTextFeaturesVersion},
                                  {"categories", categories},
                                  {"temperature", report.temperature},
                                  {"trained_on", data.size()},
                                  {"calibrated_on", calibration.size()}};
  std::ofstream side(sidecar_path(out_path));
  side << sidecar.dump(2) << '\n';
  if (!side) return invalid_argument("cannot write " + sidecar_path(out_path));
  return report;
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

  // The sidecar: which text features the model was trained on, its categories' order and its temperature.
  const std::string side = sidecar_path(path);
  const std::string retrain = " (retrain it with `aio probe train`)";
  auto side_text = read_file(side, "probe sidecar");
  if (!side_text)
    return invalid_file(path + " has no " + side + " beside it: it was made by an older aio, whose text features "
                        "differ" + retrain);
  nlohmann::json j = nlohmann::json::parse(*side_text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("text_features_version") || !j.contains("categories") ||
      !j.contains("temperature") || !j["text_features_version"].is_number_integer() || !j["categories"].is_array() ||
      !j["temperature"].is_number())
    return invalid_file(side + " is not an aio probe sidecar (text_features_version, categories, temperature)" +
                        retrain);
  if (j["text_features_version"].get<int>() != kTextFeaturesVersion)
    return invalid_file(path + " was trained on text features version " +
                        std::to_string(j["text_features_version"].get<int>()) + "; this aio reads version " +
                        std::to_string(kTextFeaturesVersion) + retrain);
  std::vector<std::string> trained;
  for (const auto &c : j["categories"]) {
    if (!c.is_string()) return invalid_file(side + ": categories must be strings" + retrain);
    trained.push_back(c.get<std::string>());
  }
  p->temperature_ = j["temperature"].get<double>();
  if (!(p->temperature_ > 0.01 && p->temperature_ < 100))
    return invalid_file(side + ": temperature must be in (0.01, 100)" + retrain);
  if (labels != std::set<std::string>(trained.begin(), trained.end()))
    return invalid_file(side + " names other categories than the model " + path + " holds" + retrain);
  const std::vector<std::string> &wanted = categories.empty() ? trained : categories;
  if (labels != std::set<std::string>(wanted.begin(), wanted.end())) {
    std::string have;
    for (const auto &c : trained) have += (have.empty() ? "" : ", ") + c;
    return invalid_argument(path + " was trained for other categories than the configured ones (it knows " + have +
                            ")");
  }
  p->categories_ = wanted;
  return p;
}

ProbeResult FastTextProbe::classify(std::string_view text) const {
  ProbeResult r;
  r.probe_kind = "fasttext";
  r.categories = categories_;
  const auto t0 = Clock::now();
  r.distribution = raw_distribution(*model_, categories_, text);
  apply_temperature(r.distribution, temperature_);
  r.argmax = static_cast<int32_t>(std::max_element(r.distribution.begin(), r.distribution.end()) - r.distribution.begin());
  r.entropy_bits = entropy_bits(r.distribution);
  // Reading the features is part of the probe's time (there is no template to format).
  r.probe_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return r;
}

} // namespace aio::probe
