#include "eval/scenario.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "eval/builtin_scenarios_yaml.h"
#include "util/yaml_util.h"

namespace aio::eval {
namespace fs = std::filesystem;

void Scenario::set_long_context(int32_t tokens) {
  for (auto &m : mix)
    if (m.context_tokens > 0) m.context_tokens = tokens;
}

namespace {

Status parse_task_settings(const std::string &src, const YAML::Node &node, std::map<Task, TaskSettings> &out) {
  if (!node.IsMap()) return yaml::error_at(src, node, "'tasks' must map task names to {format, max_tokens, stop}");
  for (const auto &kv : node) {
    auto task = parse_task(kv.first.Scalar());
    if (!task) return yaml::error_at(src, kv.first, task.status().message());
    const std::string path = "tasks." + kv.first.Scalar();
    AIO_RETURN_IF_ERROR(yaml::check_keys(src, kv.second, path, {"format", "max_tokens", "stop"}));
    TaskSettings t = out[*task];
    if (kv.second["format"]) {
      const std::string f = kv.second["format"].Scalar();
      if (f != "chat" && f != "completion")
        return yaml::error_at(src, kv.second["format"], path + ".format must be chat or completion");
      t.chat = f == "chat";
    }
    if (kv.second["max_tokens"]) {
      auto n = yaml::as_int(src, kv.second["max_tokens"], path + ".max_tokens");
      if (!n) return n.status();
      if (*n < 1) return yaml::error_at(src, kv.second["max_tokens"], path + ".max_tokens must be at least 1");
      t.max_tokens = static_cast<int32_t>(*n);
    }
    if (kv.second["stop"]) {
      auto s = yaml::as_string_list(src, kv.second["stop"], path + ".stop");
      if (!s) return s.status();
      t.stop = *s;
    }
    out[*task] = t;
  }
  return {};
}

Expected<Scenario> parse_scenario(const std::string &src, const std::string &name, const YAML::Node &node,
                                  std::map<Task, TaskSettings> tasks) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, "scenario " + name, {"name", "description", "mix", "tasks"}));
  Scenario s;
  s.name = node["name"] ? node["name"].Scalar() : name;
  s.source = src;
  if (node["description"]) s.description = node["description"].Scalar();
  if (node["tasks"]) AIO_RETURN_IF_ERROR(parse_task_settings(src, node["tasks"], tasks));
  s.tasks = std::move(tasks);
  if (!node["mix"] || !node["mix"].IsSequence() || node["mix"].size() == 0)
    return yaml::error_at(src, node, "scenario " + s.name + " needs a 'mix': a list of {task, share}");
  double total = 0;
  for (const auto &e : node["mix"]) {
    AIO_RETURN_IF_ERROR(yaml::check_keys(src, e, "mix entry", {"task", "share", "context_tokens"}));
    MixEntry m;
    if (!e["task"] || !e["share"]) return yaml::error_at(src, e, "a mix entry needs 'task' and 'share'");
    auto task = parse_task(e["task"].Scalar());
    if (!task) return yaml::error_at(src, e["task"], task.status().message());
    m.task = *task;
    auto share = yaml::as_number(src, e["share"], "share");
    if (!share) return share.status();
    if (*share <= 0 || *share > 1) return yaml::error_at(src, e["share"], "a share must be in (0, 1]");
    m.share = *share;
    if (e["context_tokens"]) {
      auto c = yaml::as_int(src, e["context_tokens"], "context_tokens");
      if (!c) return c.status();
      if (*c < 16) return yaml::error_at(src, e["context_tokens"], "context_tokens must be at least 16");
      m.context_tokens = static_cast<int32_t>(*c);
    }
    total += m.share;
    s.mix.push_back(m);
  }
  if (std::fabs(total - 1.0) > 1e-6)
    return yaml::error_at(src, node["mix"], "the shares of scenario " + s.name + " add up to " + std::to_string(total) +
                                                ", not 1");
  return s;
}

} // namespace

Expected<Scenario> load_scenario(const std::string &name_or_path) {
  auto builtin = yaml::load_string(kBuiltinScenariosYaml, "configs/scenarios.yaml (built in)");
  if (!builtin) return builtin.status();
  std::map<Task, TaskSettings> defaults;
  AIO_RETURN_IF_ERROR(parse_task_settings("configs/scenarios.yaml", (*builtin)["tasks"], defaults));
  const YAML::Node scenarios = (*builtin)["scenarios"];
  if (scenarios[name_or_path])
    return parse_scenario("configs/scenarios.yaml (built in)", name_or_path, scenarios[name_or_path], defaults);
  std::error_code ec;
  if (!fs::exists(name_or_path, ec)) {
    std::string names;
    for (const auto &kv : scenarios) names += (names.empty() ? "" : ", ") + kv.first.Scalar();
    return not_found("no scenario '" + name_or_path + "': built in are " + names + ", or give a scenario file");
  }
  auto file = yaml::load_file(name_or_path, "scenario file");
  if (!file) return file.status();
  return yaml::guarded(name_or_path,
                       [&] { return parse_scenario(name_or_path, fs::path(name_or_path).stem().string(), *file, defaults); });
}

Expected<std::map<Task, std::string>> locate_datasets(const Scenario &scenario, const std::string &data_dir,
                                                      const std::map<Task, std::string> &overrides) {
  static const std::map<Task, std::vector<std::string>> usual = {
      {Task::humaneval, {"HumanEval.jsonl.gz", "HumanEval.jsonl", "humaneval/HumanEval.jsonl.gz",
                         "humaneval/HumanEval.jsonl"}},
      {Task::gsm8k, {"gsm8k/test.jsonl", "gsm8k/train.jsonl", "gsm8k.jsonl"}},
      {Task::mmlu, {"mmlu/test", "mmlu/val", "mmlu/dev", "mmlu.csv"}},
      {Task::ceval, {"ceval/val", "ceval/dev", "ceval.csv"}},
      {Task::gpqa, {"gpqa/gpqa_main.csv", "gpqa/gpqa_diamond.csv", "gpqa.csv"}},
  };
  std::map<Task, std::string> out;
  for (const auto &m : scenario.mix) {
    if (out.count(m.task)) continue;
    if (auto o = overrides.find(m.task); o != overrides.end()) {
      out[m.task] = o->second;
      continue;
    }
    std::string tried;
    for (const auto &rel : usual.at(m.task)) {
      const fs::path p = fs::path(data_dir) / rel;
      std::error_code ec;
      if (fs::exists(p, ec)) {
        out[m.task] = p.string();
        break;
      }
      tried += (tried.empty() ? "" : ", ") + rel;
    }
    if (!out.count(m.task))
      return not_found(std::string("no ") + task_name(m.task) + " data under " + data_dir + " (looked for " + tried +
                       "); pass --dataset " + task_name(m.task) + "=PATH");
  }
  return out;
}

namespace {

// Unrelated filler for long-context variants, written for this project: plain statements about nothing the tasks
// ask about.
const std::vector<std::string> kFiller = {
    "The harbour town kept a ledger of every ship that arrived during the long winter months.",
    "Along the northern ridge, pine forests give way to open meadows dotted with grey boulders.",
    "A committee met each spring to decide the colours of the market stalls for the coming season.",
    "The old railway bridge was repainted twice, once in green and later in a muted shade of brown.",
    "Visitors to the museum often lingered near the collection of hand-drawn maps of river valleys.",
    "In the village square a fountain has stood since long before anyone can remember its builder.",
    "Evening fog rolled in from the coast and settled over the fields until the morning sun lifted it.",
    "The library's reading room had tall windows that faced a quiet courtyard lined with lime trees.",
    "Migrating birds rest on the lake each autumn before continuing their journey south.",
    "A local choir practised on Thursday evenings in the hall behind the bakery.",
    "The weather station recorded steady winds from the west for most of the season.",
    "Narrow lanes wind between the houses, each one paved with stones worn smooth by centuries of use.",
};

} // namespace

std::string pad_prompt(const TaskItem &item, int32_t target, const TokenCounter &count_tokens) {
  const int32_t have = count_tokens(item.prompt);
  if (have >= target) return item.prompt;
  const bool code = item.task == Task::humaneval;
  const std::string line_prefix = code ? "# " : "";
  std::string filler = code ? "# Background notes, unrelated to the task below.\n"
                            : "Background notes, unrelated to the question that follows:\n";
  // Sentences are added in a fixed rotation; their token counts are measured once and summed (a close estimate of
  // the joined text's count, checked at the end).
  std::vector<int32_t> cost(kFiller.size());
  for (size_t i = 0; i < kFiller.size(); ++i) cost[i] = std::max(1, count_tokens(line_prefix + kFiller[i] + "\n"));
  int32_t total = have + count_tokens(filler) + 2;
  for (size_t i = 0; total < target; ++i) {
    const size_t k = i % kFiller.size();
    filler += line_prefix + kFiller[k] + "\n";
    total += cost[k];
  }
  return filler + "\n" + item.prompt;
}

Expected<std::vector<WorkItem>> build_workload(const Scenario &scenario, const std::map<Task, std::vector<TaskItem>> &data,
                                               int n, uint64_t seed, const TokenCounter &count_tokens) {
  if (n < 1) return invalid_argument("--n must be at least 1");
  // Largest remainder: counts that add up to n exactly.
  std::vector<int> counts(scenario.mix.size());
  std::vector<std::pair<double, size_t>> remainders;
  int assigned = 0;
  for (size_t i = 0; i < scenario.mix.size(); ++i) {
    const double exact = scenario.mix[i].share * n;
    counts[i] = static_cast<int>(std::floor(exact));
    assigned += counts[i];
    remainders.push_back({exact - counts[i], i});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto a, auto b) { return a.first > b.first; });
  for (size_t k = 0; assigned < n; ++k, ++assigned) ++counts[remainders[k % remainders.size()].second];

  std::mt19937_64 rng(seed);
  std::vector<WorkItem> out;
  for (size_t i = 0; i < scenario.mix.size(); ++i) {
    const MixEntry &m = scenario.mix[i];
    auto d = data.find(m.task);
    if (d == data.end() || d->second.empty())
      return invalid_argument(std::string("no ") + task_name(m.task) + " items were loaded");
    std::vector<size_t> order(d->second.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const TaskSettings &ts = scenario.tasks.count(m.task) ? scenario.tasks.at(m.task) : TaskSettings{};
    for (int k = 0; k < counts[i]; ++k) {
      WorkItem w;
      w.item = d->second[order[static_cast<size_t>(k) % order.size()]];
      const int reuse = k / static_cast<int>(order.size());
      w.id = std::string(task_name(m.task)) + "/" + w.item.id + (reuse > 0 ? "#" + std::to_string(reuse + 1) : "") +
             (m.context_tokens > 0 ? "@" + std::to_string(m.context_tokens) : "");
      w.chat = ts.chat;
      w.params.max_tokens = ts.max_tokens;
      w.params.stop = ts.stop;
      w.params.sampling.temperature = 0;
      if (m.context_tokens > 0) {
        const std::string padded = pad_prompt(w.item, m.context_tokens, count_tokens);
        w.item.n_padding_tokens = count_tokens(padded) - count_tokens(w.item.prompt);
        w.item.prompt = padded;
        w.context_tokens = m.context_tokens;
      }
      out.push_back(std::move(w));
    }
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

} // namespace aio::eval
