// `aio probe train` and `aio probe eval`: build a fastText probe from labeled prompts, and measure any probe's
// accuracy, confusion matrix (the paper's Table 2) and latency on labeled data.
#include <algorithm>
#include <cstdio>
#include <map>

#include "commands.h"
#include "progress.h"
#include "config/config.h"
#include "core/router.h"
#include "eval/labeled_data.h"
#include "probe/fasttext_probe.h"

namespace aio::cli {
namespace {

struct ProbeTrainOptions {
  std::vector<std::string> data;
  std::string out;
  std::vector<std::string> categories = {"code", "qa", "math"};
  probe::FastTextTrainParams params;
};

struct ProbeEvalOptions {
  std::vector<std::string> data;
  std::string probe = "fasttext";
  std::string config;
  std::string model;
  int show_errors = 0;
  bool json = false;
};

Expected<std::vector<eval::LabeledPrompt>> load_all(const std::vector<std::string> &paths) {
  std::vector<eval::LabeledPrompt> all;
  for (const auto &p : paths) {
    auto part = eval::load_labeled(p);
    if (!part) return part.status();
    all.insert(all.end(), part->begin(), part->end());
  }
  if (all.empty()) return invalid_argument("the data holds no prompts");
  return all;
}

int run_train(const ProbeTrainOptions &o) {
  auto data = load_all(o.data);
  if (!data) return report_error(data.status());
  Status s = probe::train_fasttext_probe(probe::training_examples(*data), o.categories, o.out, o.params);
  if (!s.ok()) return report_error(s);
  std::map<std::string, int> counts;
  for (const auto &p : *data) ++counts[p.label];
  std::printf("trained %s on %zu prompts (", o.out.c_str(), data->size());
  bool first = true;
  for (const auto &[label, n] : counts) std::printf("%s%s %d", first ? "" : ", ", label.c_str(), n), first = false;
  std::printf(")\n");
  return 0;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

int run_eval(const ProbeEvalOptions &o) {
  auto data = load_all(o.data);
  if (!data) return report_error(data.status());
  std::vector<std::string> categories = {"code", "qa", "math"};
  std::unique_ptr<probe::FastTextProbe> ft;
  std::unique_ptr<core::Router> router;
  if (o.probe == "fasttext") {
    std::string path = o.model;
    if (path.empty() && !o.config.empty()) {
      auto cfg = config::load_config(o.config);
      if (!cfg) return report_error(cfg.status());
      categories = cfg->categories;
      path = cfg->probe.fasttext_model;
    }
    if (path.empty() || path == "builtin") path = AIO_DEFAULT_PROBE_PATH;
    auto p = probe::FastTextProbe::load(path, categories);
    if (!p) return report_error(p.status());
    ft = std::move(*p);
  } else if (o.probe == "lm") {
    if (o.config.empty()) return report_error(invalid_argument("--probe lm needs --config (it runs the small model)"));
    auto cfg = config::load_config(o.config);
    if (!cfg) return report_error(cfg.status());
    cfg->probe.kind = "lm";
    categories = cfg->categories;
    auto r = core::Router::create(std::move(*cfg));
    if (!r) return report_error(r.status());
    router = std::move(*r);
  } else {
    return report_error(invalid_argument("--probe must be fasttext or lm"));
  }

  const size_t n_cat = categories.size();
  std::vector<std::vector<int>> confusion(n_cat, std::vector<int>(n_cat, 0));
  std::vector<double> latency_ms;
  std::vector<std::pair<const eval::LabeledPrompt *, std::string>> errors;
  int skipped = 0;
  // The fastText probe takes microseconds a prompt; the lm probe a forward pass each, so show how far it is.
  std::unique_ptr<Progress> bar = router ? std::make_unique<Progress>("probing with the lm probe", "prompts") : nullptr;
  for (const auto &p : *data) {
    if (bar) bar->update(static_cast<uint64_t>(&p - data->data()) + 1, data->size());
    const auto truth = std::find(categories.begin(), categories.end(), p.label);
    if (truth == categories.end()) {
      ++skipped;
      continue;
    }
    ProbeResult r;
    if (ft) {
      r = ft->classify(p.text);
    } else {
      Request req = make_request(p.text, false);
      req.shadow_probe = true; // whatever the serving policy reads, the probe's verdict is what is measured
      auto routed = router->route(req);
      if (!routed) return report_error(routed.status());
      r = routed->probe;
    }
    latency_ms.push_back(r.template_ms + r.wait_ms + r.probe_ms);
    const auto t = static_cast<size_t>(truth - categories.begin());
    ++confusion[t][static_cast<size_t>(r.argmax)];
    if (static_cast<size_t>(r.argmax) != t) errors.emplace_back(&p, r.category());
  }
  bar.reset();
  const int total = static_cast<int>(latency_ms.size());
  int correct = 0;
  for (size_t i = 0; i < n_cat; ++i) correct += confusion[i][i];
  const double accuracy = total ? 100.0 * correct / total : 0;

  if (o.json) {
    nlohmann::json j = {{"probe", o.probe},
                        {"n", total},
                        {"skipped", skipped},
                        {"accuracy", accuracy / 100},
                        {"categories", categories},
                        {"confusion", confusion},
                        {"latency_ms", {{"p50", percentile(latency_ms, 0.5)}, {"p99", percentile(latency_ms, 0.99)}}}};
    for (size_t i = 0; i < n_cat; ++i) {
      int row = 0;
      for (int c : confusion[i]) row += c;
      j["recall"][categories[i]] = row ? static_cast<double>(confusion[i][i]) / row : 0.0;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s probe on %d prompts%s\n\n", o.probe.c_str(), total,
              skipped ? (" (" + std::to_string(skipped) + " with other labels skipped)").c_str() : "");
  std::printf("%-14s", "True \\ Pred");
  for (const auto &c : categories) std::printf("%8s", c.c_str());
  std::printf("%9s\n", "Recall");
  for (size_t i = 0; i < n_cat; ++i) {
    int row = 0;
    std::printf("%-14s", categories[i].c_str());
    for (int c : confusion[i]) std::printf("%8d", c), row += c;
    std::printf("%8.1f%%\n", row ? 100.0 * confusion[i][i] / row : 0.0);
  }
  std::printf("\naccuracy     %.2f%% (%d of %d)\n", accuracy, correct, total);
  std::printf("latency      p50 %.4f ms, p99 %.4f ms per request\n", percentile(latency_ms, 0.5),
              percentile(latency_ms, 0.99));
  for (int i = 0; i < std::min<int>(o.show_errors, static_cast<int>(errors.size())); ++i) {
    const auto &[p, pred] = errors[static_cast<size_t>(i)];
    std::string text = p->text.substr(0, 100);
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::printf("  miss: %s true %s, predicted %s: %s\n", p->id.c_str(), p->label.c_str(), pred.c_str(), text.c_str());
  }
  return 0;
}

} // namespace

void add_probe_command(CLI::App &app, Runner &runner) {
  CLI::App *probe = app.add_subcommand("probe", "Train and evaluate the intent probes");
  probe->require_subcommand(1);

  auto t = std::make_shared<ProbeTrainOptions>();
  CLI::App *train = probe->add_subcommand("train", "Train a fastText probe from labeled prompts");
  train->add_option("--data", t->data, "Labeled JSONL ({\"text\", \"label\"}) or a benchmark file/folder; repeatable")
      ->required();
  train->add_option("-o,--output", t->out, "Where to write the model (.bin)")->required();
  train->add_option("--categories", t->categories, "Category names")->delimiter(',')->capture_default_str();
  train->add_option("--epoch", t->params.epoch, "Training epochs")->capture_default_str();
  train->add_option("--lr", t->params.lr, "Learning rate")->capture_default_str();
  train->add_option("--dim", t->params.dim, "Embedding size")->capture_default_str();
  train->add_option("--seed", t->params.seed, "Random seed")->capture_default_str();
  train->add_option("--minn", t->params.minn, "Shortest character n-gram (0 with --maxn 0: none)")->capture_default_str();
  train->add_option("--maxn", t->params.maxn, "Longest character n-gram")->capture_default_str();
  train->add_option("--word-ngrams", t->params.word_ngrams, "Longest word n-gram")->capture_default_str();
  train->callback([t, &runner] { runner = [t] { return run_train(*t); }; });

  auto e = std::make_shared<ProbeEvalOptions>();
  CLI::App *ev = probe->add_subcommand("eval", "Accuracy, recall, confusion matrix and latency of a probe");
  ev->add_option("--data", e->data,
                 "Labeled JSONL, GSM8K JSONL (math), MMLU/C-Eval CSV file or folder (qa); repeatable")
      ->required();
  ev->add_option("--probe", e->probe, "fasttext or lm")->capture_default_str();
  ev->add_option("--config", e->config, "A-IO config (needed for the lm probe; gives the fastText model path)");
  ev->add_option("--model", e->model, "fastText model file (default: the config's, else the one built with aio)");
  ev->add_option("--show-errors", e->show_errors, "Print up to N misclassified prompts");
  ev->add_flag("--json", e->json, "Print JSON");
  ev->callback([e, &runner] { runner = [e] { return run_eval(*e); }; });
}

} // namespace aio::cli
