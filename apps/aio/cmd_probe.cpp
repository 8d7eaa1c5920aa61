// `aio probe train` and `aio probe eval`: build a fastText probe from labeled prompts, and measure any probe's
// accuracy, confusion matrix (the paper's Table 2) and latency on labeled data.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "commands.h"
#include "eval/probe_eval.h"
#include "progress.h"
#include "config/config.h"
#include "core/router.h"
#include "eval/labeled_data.h"
#include "probe/fasttext_probe.h"
#include "util/data_dir.h"

namespace aio::cli {
namespace {

struct ProbeTrainOptions {
  std::vector<std::string> data;
  std::vector<std::string> calibrate_on;
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
  int read_tokens = -1;       // lm: the probe's read budget (-1: the config's probe.read_tokens)
  std::optional<double> escalate_entropy_gt; // cascade: fastText entropy above which the lm probe reads (unset: config's)
  bool against_whole = false; // lm: read each longer prompt whole too and compare the verdicts
};

// The lm probe's window (probe.read_tokens) against reading the whole prompt, on the prompts longer than the window.
struct WindowCheck {
  int longer = 0, agree = 0, right_window = 0, right_whole = 0;
  double share(int n) const { return longer ? static_cast<double>(n) / longer : 0; }
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
  std::vector<eval::LabeledPrompt> calibration;
  if (!o.calibrate_on.empty()) {
    auto c = load_all(o.calibrate_on);
    if (!c) return report_error(c.status());
    calibration = std::move(*c);
  }
  auto report = probe::train_fasttext_probe(probe::training_examples(*data), o.categories, o.out, o.params,
                                            probe::training_examples(calibration));
  if (!report) return report_error(report.status());
  std::map<std::string, int> counts;
  for (const auto &p : *data) ++counts[p.label];
  std::printf("trained %s on %zu prompts (", o.out.c_str(), data->size());
  bool first = true;
  for (const auto &[label, n] : counts) std::printf("%s%s %d", first ? "" : ", ", label.c_str(), n), first = false;
  std::printf(")\n");
  if (calibration.empty())
    std::printf("temperature 1 (not calibrated: --calibrate-on DATA fits it on prompts held out from training)\n");
  else
    std::printf("temperature %.3f, fitted on %zu held-out prompts (log loss %.4f -> %.4f)\n", report->temperature,
                calibration.size(), report->log_loss_before, report->log_loss_after);
  return 0;
}


// "code" against every other category together (the split the shipped policies route on), when there is a code
// category: how many requests are code, how many were read as code, and how many of those were code.
struct CodeSplit {
  int actual = 0, predicted = 0, hits = 0;
  double precision() const { return predicted ? static_cast<double>(hits) / predicted : 1.0; }
  double recall() const { return actual ? static_cast<double>(hits) / actual : 1.0; }
};
std::optional<CodeSplit> code_split(const eval::ProbeEvaluation &ev) {
  const auto it = std::find(ev.categories.begin(), ev.categories.end(), "code");
  if (it == ev.categories.end()) return std::nullopt;
  const auto c = static_cast<size_t>(it - ev.categories.begin());
  CodeSplit s;
  for (size_t i = 0; i < ev.categories.size(); ++i) s.predicted += ev.confusion[i][c], s.actual += ev.confusion[c][i];
  s.hits = ev.confusion[c][c];
  return s;
}

int run_eval(const ProbeEvalOptions &o) {
  auto data = load_all(o.data);
  if (!data) return report_error(data.status());
  std::vector<std::string> categories; // the config's, else the model's own
  std::unique_ptr<probe::FastTextProbe> ft;
  std::unique_ptr<core::Router> router, whole_router; // whole: the same probe reading every token (--against-whole)
  int32_t read_tokens = 0;
  const bool runs_lm = o.probe == "lm" || o.probe == "cascade";
  if (!runs_lm && (o.read_tokens >= 0 || o.against_whole))
    return report_error(invalid_argument("--read-tokens and --against-whole are for --probe lm or cascade (the "
                                         "fastText probe reads the whole request)"));
  if (o.probe != "cascade" && o.escalate_entropy_gt)
    return report_error(invalid_argument("--escalate-entropy-gt is for --probe cascade (the threshold above which "
                                         "the lm probe reads what fastText was unsure of)"));
  double escalate_entropy_gt = 0;
  if (o.probe == "fasttext") {
    std::string path = o.model;
    if (path.empty() && !o.config.empty()) {
      auto cfg = config::load_config(o.config);
      if (!cfg) return report_error(cfg.status());
      categories = cfg->categories;
      path = cfg->probe.fasttext_model;
    }
    if (path.empty() || path == "builtin") {
      auto builtin = builtin_probe_path();
      if (!builtin) return report_error(builtin.status());
      path = std::move(*builtin);
    }
    auto p = probe::FastTextProbe::load(path, categories);
    if (!p) return report_error(p.status());
    ft = std::move(*p);
    categories = ft->categories();
  } else if (runs_lm) {
    if (o.config.empty())
      return report_error(invalid_argument("--probe " + o.probe + " needs --config (it runs the small model)"));
    auto cfg = config::load_config(o.config);
    if (!cfg) return report_error(cfg.status());
    cfg->probe.kind = o.probe;
    if (o.probe == "cascade") {
      if (!o.model.empty()) cfg->probe.fasttext_model = o.model;
      if (cfg->probe.fasttext_model.empty()) cfg->probe.fasttext_model = "builtin";
      if (o.escalate_entropy_gt) cfg->probe.escalate_entropy_gt = *o.escalate_entropy_gt;
      if (Status st = cfg->probe.check_escalation(cfg->categories.size()); !st.ok()) return report_error(st);
      escalate_entropy_gt = cfg->probe.escalate_entropy_gt;
    }
    if (o.read_tokens >= 0) cfg->probe.lm.read_tokens = o.read_tokens;
    if (auto st = cfg->probe.lm.validate(); !st.ok()) return report_error(st);
    read_tokens = cfg->probe.lm.read_tokens;
    if (o.against_whole && read_tokens == 0)
      return report_error(invalid_argument("--against-whole compares a window with the whole prompt, but the probe "
                                           "already reads it whole: give --read-tokens N (16 or more)"));
    categories = cfg->categories;
    std::optional<config::AioConfig> whole;
    if (o.against_whole) {
      whole = *cfg;
      whole->probe.lm.read_tokens = 0;
    }
    auto r = core::Router::create(std::move(*cfg));
    if (!r) return report_error(r.status());
    router = std::move(*r);
    if (whole) {
      auto w = core::Router::create(std::move(*whole));
      if (!w) return report_error(w.status());
      whole_router = std::move(*w);
    }
  } else {
    return report_error(invalid_argument("--probe must be fasttext, lm or cascade, not '" + o.probe + "'"));
  }

  std::vector<eval::ProbeSample> samples;
  WindowCheck window;
  // The fastText probe takes microseconds a prompt; the lm probe a forward pass each, so show how far it is.
  std::unique_ptr<Progress> bar =
      router ? std::make_unique<Progress>("probing with the " + o.probe + " probe", "prompts") : nullptr;
  for (const auto &p : *data) {
    if (bar) bar->update(static_cast<uint64_t>(&p - data->data()) + 1, data->size());
    if (std::find(categories.begin(), categories.end(), p.label) == categories.end()) {
      samples.push_back({p.label, {}, p.source, p.lang}); // counted as skipped
      continue;
    }
    if (ft) {
      samples.push_back({p.label, ft->classify(p.text), p.source, p.lang});
      continue;
    }
    Request req = make_request(p.text, false);
    req.shadow_probe = true; // whatever the serving policy reads, the probe's verdict is what is measured
    auto routed = router->route(req);
    if (!routed) return report_error(routed.status());
    samples.push_back({p.label, routed->probe, p.source, p.lang});
    if (whole_router && routed->probe.n_context_tokens > read_tokens) {
      auto read_whole = whole_router->route(req);
      if (!read_whole) return report_error(read_whole.status());
      ++window.longer;
      window.agree += read_whole->probe.category() == routed->probe.category();
      window.right_window += routed->probe.category() == p.label;
      window.right_whole += read_whole->probe.category() == p.label;
    }
  }
  bar.reset();
  auto ev = eval::evaluate_probe(categories, samples);
  if (!ev) return report_error(ev.status());
  const size_t n_cat = categories.size();

  auto groups_json = [&](const std::vector<eval::GroupRecall> &groups) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto &g : groups) {
      nlohmann::json row = {{"n", g.total}, {"accuracy", g.accuracy()}};
      for (size_t c = 0; c < n_cat; ++c)
        if (g.n[c]) row["recall"][categories[c]] = {{"n", g.n[c]}, {"recall", g.recall(c)}};
      out[g.name] = row;
    }
    return out;
  };
  if (o.json) {
    nlohmann::json j = {{"probe", o.probe},
                        {"n", ev->total},
                        {"skipped", ev->skipped},
                        {"accuracy", ev->accuracy()},
                        {"categories", categories},
                        {"confusion", ev->confusion},
                        {"by_source", groups_json(ev->by_source)},
                        {"by_lang", groups_json(ev->by_lang)},
                        {"calibration", {{"expected_calibration_error", ev->expected_calibration_error},
                                         {"log_loss", ev->log_loss}}},
                        {"latency_ms", {{"p50", ev->latency_p50_ms}, {"p99", ev->latency_p99_ms}}}};
    if (const auto split = code_split(*ev))
      j["code_vs_rest"] = {{"code", split->actual},         {"read_as_code", split->predicted},
                           {"right", split->hits},          {"precision", split->precision()},
                           {"recall", split->recall()}};
    for (size_t i = 0; i < n_cat; ++i) j["recall"][categories[i]] = ev->recall[i];
    if (runs_lm) j["read_tokens"] = read_tokens;
    j["read_by"] = ev->read_by;
    if (o.probe == "cascade") j["escalate_entropy_gt"] = escalate_entropy_gt;
    if (o.probe == "fasttext")
      for (const auto &row : ev->escalation)
        j["escalation"].push_back({{"entropy_gt", row.entropy_gt},
                                   {"escalated", row.escalated},
                                   {"escalated_share", row.escalated_share()},
                                   {"kept_accuracy", row.kept_accuracy()},
                                   {"escalated_correct", row.escalated_correct}});
    if (whole_router)
      j["against_whole"] = {{"longer", window.longer},
                            {"agree", window.agree},
                            {"accuracy_window", window.share(window.right_window)},
                            {"accuracy_whole", window.share(window.right_whole)}};
    for (const auto &b : ev->reliability)
      j["calibration"]["bins"].push_back(
          {{"lo", b.lo}, {"hi", b.hi}, {"n", b.n}, {"confidence", b.mean_confidence}, {"accuracy", b.accuracy}});
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s probe on %d prompts%s\n\n", o.probe.c_str(), ev->total,
              ev->skipped ? (" (" + std::to_string(ev->skipped) + " with other labels skipped)").c_str() : "");
  std::printf("%-14s", "True \\ Pred");
  for (const auto &c : categories) std::printf("%8s", c.c_str());
  std::printf("%9s\n", "Recall");
  for (size_t i = 0; i < n_cat; ++i) {
    std::printf("%-14s", categories[i].c_str());
    for (int c : ev->confusion[i]) std::printf("%8d", c);
    std::printf("%8.1f%%\n", 100.0 * ev->recall[i]);
  }
  // Recall of each category within each source / language: a cell per category the group has samples of.
  auto print_groups = [&](const char *title, const std::vector<eval::GroupRecall> &groups) {
    std::printf("\n%-34s%7s", title, "n");
    for (const auto &c : categories) std::printf("%10s", c.c_str());
    std::printf("%10s\n", "accuracy");
    for (const auto &g : groups) {
      std::printf("%-34s%7d", g.name.substr(0, 33).c_str(), g.total);
      for (size_t c = 0; c < n_cat; ++c) {
        if (g.n[c]) std::printf("%9.2f%%", 100 * g.recall(c));
        else std::printf("%10s", "-");
      }
      std::printf("%9.2f%%\n", 100 * g.accuracy());
    }
  };
  if (ev->by_lang.size() > 1) print_groups("language (recall)", ev->by_lang);
  if (ev->by_source.size() > 1) print_groups("source (recall)", ev->by_source);
  std::printf("\naccuracy     %.2f%% (%d of %d)\n", 100 * ev->accuracy(), ev->correct, ev->total);
  if (const auto split = code_split(*ev))
    std::printf("code / rest  %d code requests, %d read as code, %d of them right: precision %.2f%%, recall %.2f%%\n"
                "             (the split the shipped policies route on: code may go to the small model)\n",
                split->actual, split->predicted, split->hits, 100 * split->precision(), 100 * split->recall());
  std::printf("calibration  expected calibration error %.4f, log loss %.4f\n", ev->expected_calibration_error,
              ev->log_loss);
  std::printf("latency      p50 %.4f ms, p99 %.4f ms per request\n", ev->latency_p50_ms, ev->latency_p99_ms);
  if (o.probe == "cascade")
    std::printf("cascade      fastText read all %d; the lm probe read the %d it was unsure of (entropy > %.3f bits)\n",
                ev->total, ev->read_by.count("lm") ? ev->read_by.at("lm") : 0, escalate_entropy_gt);
  if (o.probe == "fasttext") {
    // What a cascade with this probe first would send on to the lm probe at each threshold (probe.kind cascade).
    std::printf("escalation   entropy >   sent on to the lm probe   accuracy of the rest   right on those sent on\n");
    for (const auto &row : ev->escalation) {
      char kept[16] = "        -";
      if (row.kept) std::snprintf(kept, sizeof kept, "%8.2f%%", 100 * row.kept_accuracy());
      std::printf("             %9.2f   %8d (%6.2f%%)       %s          %8d\n", row.entropy_gt, row.escalated,
                  100 * row.escalated_share(), kept, row.escalated_correct);
    }
  }
  if (runs_lm)
    std::printf("read         %s\n", read_tokens ? ("at most " + std::to_string(read_tokens) +
                                                      " tokens of a request (its first 3/4 and last 1/4)").c_str()
                                                   : "every token of a request");
  if (whole_router)
    std::printf("window       %d prompts longer than %d tokens: the window gave the whole read's category on %d "
                "(%.2f%%); accuracy on them %.2f%% read as a window, %.2f%% read whole\n",
                window.longer, read_tokens, window.agree, 100 * window.share(window.agree),
                100 * window.share(window.right_window), 100 * window.share(window.right_whole));
  for (int i = 0; i < std::min<int>(o.show_errors, static_cast<int>(ev->misses.size())); ++i) {
    const eval::LabeledPrompt *p = &(*data)[ev->misses[static_cast<size_t>(i)]];
    const std::string pred = samples[ev->misses[static_cast<size_t>(i)]].result.category();
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
  train->add_option("--calibrate-on", t->calibrate_on,
                    "Labeled prompts held out from training, to fit the probability temperature on; repeatable");
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
  ev->add_option("--probe", e->probe, "fasttext, lm, or cascade (fastText, then lm on what it is unsure of)")
      ->capture_default_str();
  ev->add_option("--config", e->config, "A-IO config (needed for the lm probe; gives the fastText model path)");
  ev->add_option("--model", e->model, "fastText model file (default: the config's, else the one built with aio)");
  ev->add_option("--show-errors", e->show_errors, "Print up to N misclassified prompts");
  ev->add_option("--read-tokens", e->read_tokens,
                 "lm probe: read at most N tokens of a request, its first 3/4 and last 1/4 (0: all; default: the "
                 "config's probe.read_tokens)")
      ->check(CLI::Range(0, 1000000));
  ev->add_flag("--against-whole", e->against_whole,
               "lm probe: read each prompt longer than --read-tokens whole too, and report how often the window "
               "agrees and both accuracies on those prompts");
  ev->add_option("--escalate-entropy-gt", e->escalate_entropy_gt,
                 "cascade: the fastText entropy (bits) above which the lm probe reads the request (default: the "
                 "config's probe.escalate_entropy_gt)");
  ev->add_flag("--json", e->json, "Print JSON");
  ev->callback([e, &runner] { runner = [e] { return run_eval(*e); }; });
}

} // namespace aio::cli
